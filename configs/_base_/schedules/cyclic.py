# Cyclic learning (paper §III-C): every cycle trains the classifier, extracts fresh seeds
# and runs the self-training of the back-end. Epoch counts are a budget; the paper trains
# each phase to convergence on GPUs. Each phase gets a fresh optimizer and the schedulers
# of self_training.py.
_base_ = './self_training.py'
train_cfg = dict(
    type='CyclicLoop',
    max_cycles=4,
    mode='bilateral',
    # Stop early when `patience` cycles in a row do not raise the best validation Dice so far
    # by at least min_improvement (None: run max_cycles).
    min_improvement=None,
    patience=2,
    self_training=dict(
        num_students=3,
        teacher_epochs=4,
        student_epochs=4,
        alpha=0.66,
        # Pseudo labels (M') are what the model outputs at test: None takes the config's
        # test_evaluator.score_thr (0.05 in the weak configs; a HoVer-Net instance scores its
        # mean NP probability, >= np_thr). A number above what the back-end gives leaves M'
        # empty, which stops the run (allow_empty_pseudo_labels=True: train on).
        score_thr=None,
        union_iou_thr=0.5,
        selection='val_dice'),
    seeds=dict(
        source='relevance',  # 'ground_truth' = Table V GT x K (uses pixel labels)
        tile_size=224,
        min_overlap=64,
        batch_size=8,
        keep_relevance=False))
