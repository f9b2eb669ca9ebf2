"""tools/slide_info.py: what a slide is, and its tissue as a QuPath annotation."""
import json

from wsi_helpers import qupath_import

from apis_helpers import load_tool


def test_info_names_the_mpp_source_and_writes_tissue_for_qupath(tmp_path, pyramids, capsys):
    code = load_tool('slide_info').main([str(pyramids['svs']), str(tmp_path / 'absent.svs'),
                                         '--json', '--tissue-out', str(tmp_path / 'masks')])
    captured = capsys.readouterr()
    assert code == 1 and 'absent.svs' in captured.err
    info = json.loads(captured.out.strip().splitlines()[-1])
    assert info['vendor'] == 'aperio' and info['mpp'] == 0.25
    assert info['mpp_source'] == 'Aperio ImageDescription MPP' and info['objective_power'] == 40
    assert [lv['downsample'] for lv in info['levels']] == [1, 2, 4]
    assert 0.2 < info['tissue_fraction'] < 0.45
    (kind, name, geometry), = qupath_import(tmp_path / 'masks' / 'aperio_tissue.geojson')
    assert (kind, name) == ('annotation', 'Tissue')
    assert abs(geometry.area * 0.25 ** 2 / 1e6 - info['tissue_mm2']) < 0.1 * info['tissue_mm2']
    assert (tmp_path / 'masks' / 'aperio_tissue.png').is_file()
    assert load_tool('slide_info').main([str(pyramids['generic'])]) == 0
    assert 'TIFF resolution (CENTIMETER)' in capsys.readouterr().out
