"""The one progress display (:mod:`mmcyclic.utils.progress`)."""
import sys

from mmcyclic.utils.progress import Progress, progress_write


def test_disabled_or_empty_bars_print_nothing(capsys):
    for bar in (Progress(3, enabled=False), Progress(0)):
        with bar:
            bar.update(note='a')
        assert bar.done == 1
    assert capsys.readouterr() == ('', '')


def test_tqdm_bar_on_stderr_keeps_stdout_free(capsys):
    with Progress(2, desc='images', unit='image') as bar:
        bar.update(note='a')
        progress_write('a: done')
        bar.update(note='b')
    out, err = capsys.readouterr()
    assert out == 'a: done\n'
    assert 'images' in err and '2/2' in err


def test_without_tqdm_a_counter_for_outer_bars_only(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, 'tqdm', None)  # import tqdm now fails
    nested = Progress(2, desc='tiles', position=1)
    nested.update()
    bar = Progress(2, desc='images')
    bar.update(note='a')
    bar.update(note='b')
    progress_write('done')
    out, err = capsys.readouterr()
    assert out == 'done\n'
    assert err == '\rimages [1/2] a\rimages [2/2] b\n'
