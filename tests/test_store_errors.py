"""An unreachable or unusable store is one clear StoreError (URL masked), never a driver
exception; passwords never appear in messages."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))

import store_kill_driver as fx

from agentver.errors import StoreError
from agentver.store import mask_url, open_store, parse_store_url


def test_mask_url_hides_passwords() -> None:
    assert mask_url("postgresql://bob:s3cret@db.example:5432/agents") == (
        "postgresql://bob:***@db.example:5432/agents"
    )
    assert mask_url("postgresql://bob@db/agents") == "postgresql://bob@db/agents"
    assert "s3cret" not in mask_url("postgresql://db/agents?user=bob&password=s3cret")
    assert mask_url("sqlite:///.agentver/runtime.db") == "sqlite:///.agentver/runtime.db"
    assert "p@ss" not in mask_url("postgresql://bob:p@ss@[::1/x")  # unparseable: regex path


@given(
    user=st.text("abcdefghij_", min_size=1, max_size=8),
    password=st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ!$&()*+,;=_~-", min_size=4),
    host=st.sampled_from(["db", "127.0.0.1", "db.example.com:6543"]),
)
def test_mask_url_never_leaks_the_password(user: str, password: str, host: str) -> None:
    masked = mask_url(f"postgresql://{user}:{password}@{host}/agents")
    assert password not in masked
    assert masked.startswith(f"postgresql://{user}:***@")


def test_relative_sqlite_path_is_relative_to_repo_root(tmp_path: Path) -> None:
    parsed = parse_store_url("sqlite:///.agentver/runtime.db", tmp_path)
    assert parsed.path == tmp_path / ".agentver" / "runtime.db"
    absolute = parse_store_url(f"sqlite:///{tmp_path}/x.db", Path("/elsewhere"))
    assert absolute.path == tmp_path / "x.db"


@pytest.mark.parametrize(
    "url", ["mysql://root@db/x", "sqlite://relative.db", "sqlite:///", "nonsense"]
)
def test_unsupported_urls(url: str, tmp_path: Path) -> None:
    with pytest.raises(StoreError) as info:
        open_store(url, tmp_path)
    assert info.value.exit_code == 2 and info.value.hint


def test_sqlite_missing_directory(tmp_path: Path) -> None:
    store = open_store("sqlite:///missing/dir/runtime.db", tmp_path)
    for action in (store.last_sync, lambda: store.sync(fx.make_snapshot(1, 1, "A"))):
        with pytest.raises(StoreError) as info:
            action()
        assert "does not exist" in str(info.value)
        assert "sqlite:///missing/dir/runtime.db" in str(info.value)
    assert not (tmp_path / "missing").exists()


@pytest.fixture
def read_only_db(tmp_path: Path) -> Iterator[Path]:
    db = tmp_path / "runtime.db"
    open_store(f"sqlite:///{db}").sync(fx.make_snapshot(1, 1, "A"))
    if os.geteuid() == 0:  # root ignores file modes; the immutable attribute binds it too
        if subprocess.run(["chattr", "+i", str(db)], capture_output=True).returncode:
            pytest.skip("cannot make a file read-only for root here")
        try:
            yield db
        finally:
            subprocess.run(["chattr", "-i", str(db)], check=True)
    else:
        db.chmod(0o444)
        yield db


def test_sqlite_read_only_file(read_only_db: Path) -> None:
    store = open_store(f"sqlite:///{read_only_db}")
    assert store.last_sync() is not None  # reading still works
    with pytest.raises(StoreError, match="read-only") as info:
        store.sync(fx.make_snapshot(1, 2, "B"))
    assert info.value.hint


def test_sqlite_locked_past_busy_timeout(tmp_path: Path) -> None:
    db = tmp_path / "runtime.db"
    url = f"sqlite:///{db}"
    open_store(url).sync(fx.make_snapshot(1, 1, "A"))
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        store = open_store(url, timeout=0.2)
        with pytest.raises(StoreError, match="locked") as info:
            store.sync(fx.make_snapshot(1, 2, "B"))
        assert "0.2s" in str(info.value) and info.value.hint
        assert store.last_sync() is not None  # WAL readers are not blocked by the writer
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert open_store(url).sync(fx.make_snapshot(1, 2, "B")).applied


def test_not_a_database(tmp_path: Path) -> None:
    (tmp_path / "runtime.db").write_text("hello, I am not SQLite" * 100)
    with pytest.raises(StoreError, match="not a valid SQLite database"):
        open_store(f"sqlite:///{tmp_path / 'runtime.db'}").last_sync()


@pytest.mark.postgres
def test_postgres_bad_port_masks_password() -> None:
    fx.pg_admin().close()  # the server itself must be there (or skip / fail under CI)
    url = "postgresql://postgres:hunter2secret@127.0.0.1:1/test"
    store = open_store(url)
    with pytest.raises(StoreError) as info:
        store.sync(fx.make_snapshot(1, 1, "A"))
    message = str(info.value)
    assert "hunter2secret" not in message and "hunter2secret" not in (info.value.hint or "")
    assert "postgresql://postgres:***@127.0.0.1:1/test" in message
    assert message.startswith("cannot reach store") and "\n" not in message
    assert store.url == "postgresql://postgres:***@127.0.0.1:1/test"


@pytest.mark.postgres
def test_postgres_unknown_database() -> None:
    fx.pg_admin().close()
    store = open_store("postgresql://postgres@127.0.0.1:5432/no_such_db_agentver")
    with pytest.raises(StoreError, match="no_such_db_agentver"):
        store.last_sync()


def test_postgres_without_psycopg_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['psycopg'] = None\n"
        "from agentver.store import open_store\n"
        "from agentver.errors import StoreError\n"
        "try:\n"
        "    open_store('postgresql://u:pw@localhost/db')\n"
        "except StoreError as e:\n"
        "    print(e.exit_code, e, '|', e.hint)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.startswith("2 store postgresql://u:***@localhost/db needs the psycopg driver")
    assert "agentver[postgres]" in out and "pw@" not in out


def test_store_package_does_not_import_psycopg_for_sqlite() -> None:
    code = (
        "import sys\n"
        "from agentver.store import open_store\n"
        "open_store('sqlite:////tmp/x-never-created.db')\n"
        "print('psycopg' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
