"""Selection among teacher and students, and the training patches (no training: fast)."""
import pytest

from mmcyclic.datasets.label_sets import select_patches
from mmcyclic.engine.phase_selection import best_phase, phase_scores


def test_a_model_that_finds_nothing_is_never_a_candidate():
    """Issue 19 item 1: zero validation Dice (nothing found) and, for the label-free rule, zero
    predictions on the training images (two empty models agree perfectly) are not candidates."""
    phases = [dict(name='teacher', val_pixel_dice=0.0, num_predicted=0),
              dict(name='student_1', val_pixel_dice=0.0, agreement_aji=1.0, num_predicted=0),
              dict(name='student_2', val_pixel_dice=0.2, agreement_aji=0.1, num_predicted=9)]
    assert phase_scores(phases, 'val_pixel_dice') == {'student_2': 0.2}
    assert phase_scores(phases, 'agreement_aji') == {'student_2': 0.1}


def test_the_teacher_is_a_candidate_and_can_be_selected():
    """"An equal-or-better student": a teacher better than its students is the result
    (before the fix only students were candidates and student_2 would be chosen)."""
    phases = [dict(name='teacher', val_pixel_dice=0.61),
              dict(name='student_1', val_pixel_dice=0.40, agreement_aji=0.3),
              dict(name='student_2', val_pixel_dice=0.55, agreement_aji=0.2)]
    assert best_phase(phase_scores(phases, 'val_pixel_dice')) == 'teacher'
    assert best_phase(phase_scores(phases, 'agreement_aji')) == 'student_1'
    phases[0]['val_pixel_dice'] = float('nan')  # not scored: not a candidate
    assert best_phase(phase_scores(phases, 'val_pixel_dice')) == 'student_2'
    assert best_phase({}) is None


def test_select_patches_follows_mmengine_indices_on_the_file_as_written():
    coco = dict(images=[dict(id=i) for i in range(1, 6)],
                annotations=[dict(id=10 + i, image_id=i) for i in range(1, 6)])
    assert [im['id'] for im in select_patches(coco, 2)['images']] == [1, 2]
    assert [im['id'] for im in select_patches(coco, -2)['images']] == [4, 5]
    assert [a['image_id'] for a in select_patches(coco, [4, 0])['annotations']] == [1, 5]
    assert select_patches(coco, None)['images'] == coco['images']
    with pytest.raises(ValueError, match='out of range'):
        select_patches(coco, [7])
