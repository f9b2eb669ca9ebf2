"""COCO-format nuclei dataset for mmdet (one class, patch provenance kept)."""
import os.path as osp
from typing import List, Union

from mmdet.datasets import CocoDataset
from mmdet.registry import DATASETS
from mmengine.logging import print_log

# Per-image fields written by the converters (docs/data_format.md) that must
# reach the evaluator so patch predictions can be stitched into full images.
PROVENANCE_KEYS = ('source_id', 'patch_origin', 'source_shape', 'label_map_path')


@DATASETS.register_module()
class NucleiDataset(CocoDataset):
    """Nuclei instance segmentation in the layout of ``docs/data_format.md``.

    Args:
        max_instances: Keep at most this many instances per image (the paper
            sets 400 for Mask R-CNN). Extra instances are dropped and counted
            in the log.
        **kwargs: Forwarded to :class:`mmdet.datasets.CocoDataset`.
    """

    METAINFO = {'classes': ('nucleus', ), 'palette': [(0, 255, 0)]}

    def __init__(self, *args, max_instances: int = 400, **kwargs) -> None:
        self.max_instances = max_instances
        self.num_truncated_images = 0
        super().__init__(*args, **kwargs)
        if self.num_truncated_images:
            print_log(
                f'{self.ann_file}: {self.num_truncated_images} image(s) had more than '
                f'{max_instances} instances; the extra ones were dropped (max_instances).',
                logger='current')

    def parse_data_info(self, raw_data_info: dict) -> Union[dict, List[dict]]:
        """Parse one image; adds the provenance fields and caps the instances."""
        data_info = super().parse_data_info(raw_data_info)
        img_info = raw_data_info['raw_img_info']
        height, width = img_info['height'], img_info['width']
        data_info['source_id'] = str(
            img_info.get('source_id', osp.splitext(img_info['file_name'])[0]))
        data_info['patch_origin'] = tuple(img_info.get('patch_origin', (0, 0)))
        data_info['source_shape'] = tuple(img_info.get('source_shape', (height, width)))
        label_map = img_info.get('label_map')
        data_info['label_map_path'] = osp.join(self.data_root, label_map) if label_map else None
        if len(data_info['instances']) > self.max_instances:
            data_info['instances'] = data_info['instances'][:self.max_instances]
            self.num_truncated_images += 1
        return data_info

    def filter_data(self) -> List[dict]:
        """Filter as mmdet does, but say how many images were dropped and why."""
        kept = super().filter_data()
        dropped = len(self.data_list) - len(kept)
        if dropped:
            print_log(
                f'{self.ann_file}: {dropped} of {len(self.data_list)} images have no '
                'instance and are skipped for training (filter_cfg.filter_empty_gt=True).',
                logger='current')
        return kept
