"""gym-churn: churn prediction, member portraits and churn drivers for a fitness-club chain."""

__version__ = "0.1.0"
