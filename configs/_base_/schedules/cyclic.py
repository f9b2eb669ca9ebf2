# Cyclic learning (paper §III-C): every cycle trains the classifier, extracts fresh seeds
# and runs the self-training of the back-end. Epoch counts are a budget; the paper trains
# each phase to convergence on GPUs. Each phase gets a fresh optimizer and the schedulers
# of self_training.py.
_base_ = './self_training.py'
train_cfg = dict(
    type='CyclicLoop',
    max_cycles=4,
    mode='bilateral',
    # Stop early when the selected student's validation Dice improves by less than this.
    min_improvement=None,
    self_training=dict(
        num_students=3,
        teacher_epochs=4,
        student_epochs=4,
        alpha=0.66,
        score_thr=0.5,
        union_iou_thr=0.5,
        selection='val_dice'),
    seeds=dict(
        source='relevance',  # 'ground_truth' = Table V GT x K (uses pixel labels)
        tile_size=224,
        min_overlap=64,
        batch_size=8,
        keep_relevance=False))
