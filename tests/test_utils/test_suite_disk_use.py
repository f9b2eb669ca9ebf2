"""The suite must not keep every test's checkpoints until it ends.

The end-to-end tests write up to ~0.8 GB each; kept all together they needed ~8 GB of
/tmp and a CI run failed with "No space left on device" (stop 22).
"""


def test_passed_tests_temporary_directories_are_deleted(pytestconfig):
    assert pytestconfig.getini('tmp_path_retention_policy') == 'failed'


def test_tmp_path_of_a_passing_test_is_removed_when_it_ends(pytester):
    pytester.makeini('[pytest]\ntmp_path_retention_policy = failed\n')
    pytester.makepyfile(
        """
        import pathlib
        seen = []

        def test_writes(tmp_path):
            (tmp_path / 'big.bin').write_bytes(b'0' * 1024)
            seen.append(tmp_path)

        def test_first_dir_is_gone():
            assert not seen[0].exists()
        """)
    pytester.runpytest('-p', 'no:cacheprovider').assert_outcomes(passed=2)
