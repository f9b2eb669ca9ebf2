# The budgets of the reproduction protocol, one place (docs/reproduction.md "Budgets"), chosen
# on the validation images by the budget row of `make reproduce` (ROWS=budget):
# - classifier_epochs: the front-end classifier's epochs (cosine decay over them): the shortest
#   of the budget row's budgets whose validation F1 is within 0.01 of twice its budget's;
# - phase_epochs: the epochs of every back-end phase (fully supervised run, teacher, each
#   student; 96 iterations an epoch): the shortest budget whose fully supervised HoVer-Net R18
#   validation AJI is within 0.01 of that at twice the budget (curve of ./full_hovernet_r18.py).
# PROVISIONAL until the budget row has run (see docs/reproduction.md).
classifier_epochs = 4
phase_epochs = 8
