"""Column names of a member export, shared by every stage.

Kept apart from the data contract (schema.py) so that the stages which only need the names
do not import pandera.
"""

from __future__ import annotations

BINARY_FLAGS: tuple[str, ...] = (
    "gender",
    "Near_Location",
    "Partner",
    "Promo_friends",
    "Phone",
    "Group_visits",
)
INTEGER_COLUMNS: tuple[str, ...] = (*BINARY_FLAGS, "Contract_period", "Age", "Lifetime")
NON_NEGATIVE: tuple[str, ...] = (
    "Avg_additional_charges_total",
    "Month_to_end_contract",
    "Lifetime",
    "Avg_class_frequency_total",
    "Avg_class_frequency_current_month",
)
FEATURES: tuple[str, ...] = (
    "gender",
    "Near_Location",
    "Partner",
    "Promo_friends",
    "Phone",
    "Contract_period",
    "Group_visits",
    "Age",
    "Avg_additional_charges_total",
    "Month_to_end_contract",
    "Lifetime",
    "Avg_class_frequency_total",
    "Avg_class_frequency_current_month",
)
# Position of the member in the export (1 = first data row), carried through every output so
# that a scored row can be traced back to its line in the file (line = member_row + 1).
ID_COLUMN = "member_row"
