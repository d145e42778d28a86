"""gym_churn_review: pull-request review of the pipeline's metric, param and plot changes.

Not part of the pipeline: no dvc.yaml stage imports it, and it does not import gym_churn.
Install it with the `review` extra (`pip install -e ".[review]"`, also in `dev`), run it with
`python -m gym_churn_review --base main --out review` (see `gym_churn_review.review`).
"""
