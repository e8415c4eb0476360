"""One ParkDesk per state_dir."""

import subprocess
import sys

import pytest

from daemon.lock import AlreadyRunning, StateLock


def test_second_holder_is_refused_with_a_plain_message(tmp_path):
    with StateLock(tmp_path):
        code = (
            "import sys; from pathlib import Path; from daemon.lock import StateLock, AlreadyRunning\n"
            "try:\n    StateLock(Path(sys.argv[1])).acquire()\n"
            "except AlreadyRunning as e:\n    print(e); sys.exit(3)\n"
        )
        result = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                                text=True)
        assert result.returncode == 3
        assert "already running" in result.stdout and str(tmp_path) in result.stdout


def test_lock_is_free_again_after_release(tmp_path):
    StateLock(tmp_path).acquire().release()
    with StateLock(tmp_path):
        pass


def test_same_process_second_lock_fails(tmp_path):
    with StateLock(tmp_path):
        with pytest.raises(AlreadyRunning):
            StateLock(tmp_path).acquire()
