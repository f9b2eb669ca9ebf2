#!/usr/bin/env bash
# Bundle what scripts/device/run_sparse_labels.sh needs on the GPU machine into .dev/ (ignored;
# the device tool carries it): the pure-Python OpenMMLab stack of .venv without mmcv's compiled
# ops (the machine's torch has no mmcv build: there mmcyclic.ops gives mmcv.ops torchvision's
# RoIAlign and NMS, as in any install without them), and the MoNuSeg patches of the device
# budget (first TRAIN_PATCHES training patches, first 32 validation patches, every test patch)
# with their annotation files, label maps and the seed files of the rows. 64 MiB travel in all.
set -euo pipefail
cd "$(dirname "$0")/../.."
TRAIN_PATCHES=${TRAIN_PATCHES:-128}
SP=$(.venv/bin/python -c 'import site; print(site.getsitepackages()[0])')
rm -rf .dev && mkdir -p .dev/py .dev/data/monuseg/{annotations,patches,labels} .dev/seeds
for p in mmcv mmdet mmpretrain mmengine zennit addict yapf yapf_third_party termcolor \
         terminaltables mat4py modelindex ordered_set; do
    cp -r "$SP/$p" .dev/py/
    cp -r "$SP"/"$p"-*.dist-info .dev/py/ 2>/dev/null || true
done
# Python 3.12 has no distutils, and setuptools >= 81 no pkg_resources: mmengine imports both.
cp -r "$SP/setuptools" "$SP/pkg_resources" .dev/py/
cp -r "$SP/setuptools/_distutils" .dev/py/distutils
find .dev/py -name __pycache__ -prune -exec rm -rf {} +
rm -rf .dev/py/mmdet/.mim .dev/py/mmpretrain/.mim .dev/py/mmcv/ops/csrc .dev/py/mmcv/*.so
tar -C .dev -czf .dev/py.tar.gz py && rm -rf .dev/py   # the tree travels in 64 MiB
.venv/bin/python - "$TRAIN_PATCHES" <<'PY'
import json, shutil, sys
from pathlib import Path
src, dst = Path('data/monuseg'), Path('.dev/data/monuseg')
budget = {'train': int(sys.argv[1]), 'val': 32, 'test': None}
for split, n in budget.items():
    coco = json.loads((src / f'annotations/instances_{split}.json').read_text())
    coco['images'] = coco['images'][:n] if n else coco['images']
    keep = {img['id'] for img in coco['images']}
    coco['annotations'] = [a for a in coco['annotations'] if a['image_id'] in keep]
    (dst / f'annotations/instances_{split}.json').write_text(json.dumps(coco))
    for img in coco['images']:
        shutil.copy(src / img['file_name'], dst / img['file_name'])
        if not (dst / img['label_map']).exists():
            shutil.copy(src / img['label_map'], dst / img['label_map'])
for name in ('splits.json', 'seeds_gt20.json'):
    shutil.copy(src / name, dst / name)
PY
cp work_dirs/sparse_labels/seeds/lrp_*.json .dev/seeds/
du -sh .dev .dev/*
