# Row: GT x 20, Eq. (2) literally: every nucleus without a label in a set is a negative of
# that set's loss (no label-set rule, no missing-label remedy).
_base_ = './budget_gt20.py'
model = dict(ignore_other_sets=False)
