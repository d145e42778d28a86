"""Analyses of the data: what goes with churn (drivers), tenure, and an audit."""
