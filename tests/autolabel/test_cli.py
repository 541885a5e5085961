"""The apps' error wrapper: a user's problem is one line and exit status 2; a bug keeps its traceback."""

import errno

import pytest

from autolabel.cli import clear_errors, os_error_message


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (errno.ENOSPC, "disk full; finished work is kept; free some space"),
        (errno.EROFS, "read-only file system"),
        (errno.EACCES, "permission denied"),
    ],
)
def test_fixable_os_errors_are_one_line_naming_the_file(capsys, code, words):
    def task():
        raise OSError(code, "os words", "/data/out/summary.json")

    with pytest.raises(SystemExit) as done:
        clear_errors(task)()
    err = capsys.readouterr().err
    assert done.value.code == 2 and err.startswith(f"error: /data/out/summary.json: {words}")
    assert err.count("\n") == 1


def test_other_errors_keep_their_traceback():
    assert os_error_message(OSError(errno.EIO, "I/O error")) is None

    def task():
        raise OSError(errno.EIO, "I/O error")

    with pytest.raises(OSError, match="I/O error"):
        clear_errors(task)()


def test_a_full_disk_while_plotting_names_the_file(tmp_path, monkeypatch, capsys):
    from matplotlib.figure import Figure

    from autolabel.records import ImageRecord, RecordWriter
    from uncertainty.difficulty import plot_job_scores

    with RecordWriter.in_folder(tmp_path) as writer:
        writer.append([ImageRecord(image="a.png", score=0.4, components={}, difficulty="hard")])

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", full)
    with pytest.raises(SystemExit) as done:
        clear_errors(plot_job_scores)(tmp_path, None)
    err = capsys.readouterr().err
    assert done.value.code == 2 and err.count("\n") == 1
    assert (
        f"error: {tmp_path / 'score_histogram.png'}: disk full; finished work is kept; free some space" in err
    )
