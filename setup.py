"""mmcyclic: Cyclic Learning for nuclei instance segmentation from image-level labels."""
from setuptools import find_packages, setup

setup(
    name='mmcyclic',
    version='0.1.0',
    description='Cyclic Learning (image-level labels -> nuclei instance segmentation) '
    'as an MMDetection / MMEngine plugin',
    packages=find_packages(include=['mmcyclic', 'mmcyclic.*']),
    python_requires='>=3.10',
    # The exact stack lives in requirements/constraints.txt and is installed by
    # scripts/setup_env.sh (mmcv must be compiled against the pinned torch).
    install_requires=[],
    # pip install "mmcyclic[openslide]": slide formats tifffile cannot read (docs/whole_slides.md);
    # versions pinned in requirements/constraints.txt.
    extras_require={'openslide': ['openslide-python', 'openslide-bin']},
    license='Apache-2.0',
)
