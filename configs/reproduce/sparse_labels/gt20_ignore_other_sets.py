# Row: GT x 20, the label-set rule alone (each set ignores the other set's instances;
# the weak-supervision default before the missing-label remedies).
_base_ = './budget_gt20.py'
