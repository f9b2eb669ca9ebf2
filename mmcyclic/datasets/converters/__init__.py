"""Dataset converters: source datasets -> the layout of ``docs/data_format.md``.

Each converter turns its source into :class:`~.writer.Sample` objects and
hands them to :func:`~.writer.write_dataset`. Nothing here needs torch or
mmengine (the progress bar, :class:`mmcyclic.utils.progress.Progress`, is tqdm's when it
is installed, else a counter).
"""
from .consep import consep_samples, convert_consep, read_consep_mat
from .generic import convert_generic, generic_samples
from .monuseg import KUMAR_TEST_IDS, convert_monuseg, kumar_split, monuseg_samples
from .monuseg_xml import parse_aperio_xml, polygons_to_label_map, xml_to_label_map
from .splits import seeded_choice, seeded_split
from .synthetic import convert_synthetic, synthetic_samples
from .writer import ConversionError, Loaded, Sample, Skip, format_summary, write_dataset

__all__ = [
    'ConversionError', 'KUMAR_TEST_IDS', 'Loaded', 'Sample', 'Skip', 'consep_samples',
    'convert_consep', 'convert_generic', 'convert_monuseg', 'format_summary',
    'generic_samples', 'kumar_split', 'monuseg_samples', 'parse_aperio_xml',
    'polygons_to_label_map', 'read_consep_mat', 'seeded_choice', 'seeded_split',
    'synthetic_samples', 'convert_synthetic', 'write_dataset', 'xml_to_label_map'
]
