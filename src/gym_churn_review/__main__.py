"""`python -m gym_churn_review`: the review CLI (see gym_churn_review.review)."""

import sys

from gym_churn_review.review import main

sys.exit(main())
