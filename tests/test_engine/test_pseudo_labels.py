"""M' as a label set and the label-free agreement score, on hand-made label maps."""
import numpy as np
import pytest

from mmcyclic.datasets.label_sets import LabelSet, label_set_from_label_maps
from mmcyclic.engine.pseudo_labels import agreement_with_teacher, predictions_as_label_set

IMAGES = [dict(id=1, file_name='a.png', height=8, width=8, source_id='a'),
          dict(id=2, file_name='b.png', height=8, width=8, source_id='b')]


def _two_squares() -> np.ndarray:
    label_map = np.zeros((8, 8), np.int32)
    label_map[0:2, 0:2] = 1   # 4 px
    label_map[4:8, 4:8] = 2   # 16 px
    return label_map


def test_predictions_become_a_label_set_on_the_images_they_were_made_for():
    m_set = LabelSet(images=IMAGES, annotations=[], info={})
    predictions = {'a': (_two_squares(), np.array([0.9, 0.6])),
                   'elsewhere': (_two_squares(), np.array([0.9, 0.6]))}
    m_prime, keyed = predictions_as_label_set(m_set, predictions, info=dict(round=1))
    assert list(keyed) == [1]                               # image 'a' only
    assert [a['image_id'] for a in m_prime.annotations] == [1, 1]
    assert sorted(a['score'] for a in m_prime.annotations) == [0.6, 0.9]
    assert sorted(a['area'] for a in m_prime.annotations) == [4, 16]
    assert m_prime.info == dict(round=1)
    assert len(m_prime.images) == 2                         # every image kept, b without labels


def test_agreement_is_dice_and_aji_against_the_teachers_predictions():
    teacher = label_set_from_label_maps(IMAGES, {1: (_two_squares(), [0.9, 0.9]),
                                                 2: (_two_squares(), [0.9, 0.9])})
    same = agreement_with_teacher(teacher, {'a': (_two_squares(), np.ones(2))})
    assert same == dict(agreement_dice=1.0, agreement_aji=1.0)   # b was not predicted: skipped
    missing_small = _two_squares()
    missing_small[missing_small == 1] = 0
    score = agreement_with_teacher(teacher, {'a': (missing_small, np.ones(1)),
                                             'b': (_two_squares(), np.ones(2))})
    # image a: Dice 2*16/(20+16); AJI 16/(16+4) (the teacher's unmatched nucleus joins the union)
    assert score['agreement_dice'] == pytest.approx((32 / 36 + 1.0) / 2)
    assert score['agreement_aji'] == pytest.approx((16 / 20 + 1.0) / 2)
    assert np.isnan(agreement_with_teacher(teacher, {})['agreement_aji'])
