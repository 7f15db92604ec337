"""docker-compose.yml and the image as written, checked without a Docker engine: the files
agree with each other, the package the image installs is complete, the PostgreSQL init script
creates the runtime login role, and the containers' commands, run as an unprivileged user
against a fresh secrets folder, share one signing key kept owner-only."""

from __future__ import annotations

import base64
import os
import pwd
import re
import secrets
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import yaml
from sqlalchemy.engine import make_url

from infra.ledger import checkpoint_format as fmt
from infra.ledger.checkpoints import KEY_FILE_NAME
from tests.acceptance.servers import free_port, serving

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "infra" / "docker" / "Dockerfile"
INIT_SCRIPT = REPO / "infra" / "docker" / "postgres-init.sh"
APP_SERVICES = ("api", "worker")


def compose() -> dict[str, Any]:
    # anchors and `<<` merges resolved
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return document


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def dockerfile_env() -> dict[str, str]:
    env = {}
    for word, rest in dockerfile_instructions():
        if word == "ENV":
            key, _, value = rest.partition("=")
            env[key] = value
    return env


def volume_mounts(service: dict[str, Any]) -> dict[str, str]:
    """target path -> source, for the short `source:target[:mode]` syntax."""
    mounts = {}
    for spec in service.get("volumes", []):
        source, target, *_ = spec.split(":")
        mounts[target] = source
    return mounts


def test_api_and_worker_share_one_secrets_volume_at_the_images_secrets_dir() -> None:
    spec = compose()
    services = spec["services"]
    secrets_dir = dockerfile_env()["TRIAL_LEDGER_SECRETS_DIR"]
    for name in APP_SERVICES:
        service = services[name]
        assert service["environment"]["TRIAL_LEDGER_SECRETS_DIR"] == secrets_dir, name
        assert volume_mounts(service).get(secrets_dir) == "secrets", name
        assert service["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"}
        # the runtime role only: the owner's URL is the migrate service's alone
        assert "TRIAL_LEDGER_MIGRATION_DATABASE_URL" not in service["environment"]
        assert service["environment"]["TRIAL_LEDGER_DATABASE_URL"].startswith(
            "postgresql://trial_ledger_app:")
    assert "secrets" in spec["volumes"]
    assert services["api"]["command"][-1] == "--no-worker"
    assert services["worker"]["command"] == ["trial-ledger", "project"]
    migrate = services["migrate"]
    assert migrate["command"] == ["trial-ledger", "db", "upgrade"]
    assert migrate["environment"]["TRIAL_LEDGER_MIGRATION_DATABASE_URL"].startswith(
        f"postgresql://{services['postgres']['environment']['POSTGRES_USER']}:")
    role = services["postgres"]["environment"]["TRIAL_LEDGER_RUNTIME_ROLE"]
    for name in (*APP_SERVICES, "migrate"):
        assert services[name]["environment"]["TRIAL_LEDGER_RUNTIME_ROLE"] == role


def test_the_image_makes_the_secrets_dir_owner_only_for_its_runtime_user() -> None:
    instructions = dockerfile_instructions()
    users = [rest for word, rest in instructions if word == "USER"]
    assert users == ["trial-ledger"]
    useradd = next(rest for word, rest in instructions if word == "RUN" and "useradd" in rest)
    assert "--system" in useradd and "trial-ledger" in shlex.split(useradd)
    secrets_dir = dockerfile_env()["TRIAL_LEDGER_SECRETS_DIR"]
    install = next(rest for word, rest in instructions if word == "RUN" and "install -d" in rest)
    args = shlex.split(install.split("install -d", 1)[1])
    assert args[args.index("-o") + 1] == "trial-ledger"
    assert args[args.index("-g") + 1] == "trial-ledger"
    assert args[args.index("-m") + 1] == "0700"
    assert secrets_dir in args
    # A named volume first mounted on that path copies its owner and mode from the image.
    assert dict(instructions)["CMD"].startswith('["trial-ledger", "serve"')


def test_every_path_the_compose_file_and_the_dockerfile_name_exists() -> None:
    spec = compose()
    for name, service in spec["services"].items():
        build = service.get("build")
        if build:
            context = REPO / build["context"]
            assert context.is_dir(), name
            assert (context / build["dockerfile"]).is_file(), name
        for source in volume_mounts(service).values():
            if source.startswith((".", "/")):
                assert (REPO / source).exists(), (name, source)
    for word, rest in dockerfile_instructions():
        if word == "COPY":
            *sources, _target = shlex.split(rest)
            for source in sources:
                assert (REPO / source).exists(), source
    assert os.access(INIT_SCRIPT, os.X_OK), "the entrypoint runs executable *.sh scripts"
    script = INIT_SCRIPT.read_text()
    environment = spec["services"]["postgres"]["environment"]
    for variable in set(re.findall(r"\$([A-Z_]+)", script)):
        assert variable in environment, variable


def test_the_package_the_image_installs_has_the_cli_and_the_migrations(tmp_path: Path) -> None:
    """Lay out the package from exactly what the Dockerfile copies, as `pip install .` does."""
    context = tmp_path / "context"
    context.mkdir()
    for word, rest in dockerfile_instructions():
        if word == "COPY":
            *sources, _ = shlex.split(rest)
            for source in sources:
                origin = REPO / source
                if origin.is_dir():
                    shutil.copytree(origin, context / source,
                                    ignore=shutil.ignore_patterns("__pycache__"))
                else:
                    shutil.copy(origin, context / source)
    # setuptools' build_py lays out what `pip install .` installs (packages, package data)
    built = subprocess.run([sys.executable, "-c", "from setuptools import setup; setup()", "-q",
                            "build_py", "--build-lib", str(tmp_path / "lib")], cwd=context,
                           capture_output=True, text=True, timeout=300, check=False)
    if built.returncode != 0 and "No module named" in built.stderr:
        pytest.skip(f"setuptools is not installed: {built.stderr.strip()[-200:]}")
    assert built.returncode == 0, built.stderr
    names = {p.relative_to(tmp_path / "lib").as_posix()
             for p in (tmp_path / "lib").rglob("*") if p.is_file()}
    for required in ("services/cli.py", "services/cli_errors.py", "services/cli_output.py",
                     "migrations/alembic.ini", "migrations/script.py.mako", "migrations/env.py",
                     "infra/ledger/checkpoints.py", "projections/worker.py"):
        assert required in names, required
    assert {n for n in names if n.startswith("migrations/versions/") and n.endswith(".py")} >= {
        f"migrations/versions/{p.name}" for p in (REPO / "migrations/versions").glob("0*.py")}


# -- the containers' commands, as an unprivileged user ----------------------------------------


@pytest.fixture
def service_user() -> Iterator[pwd.struct_passwd]:
    """An unprivileged account like the image's `trial-ledger` user (created when root)."""
    if os.geteuid() != 0:
        yield pwd.getpwuid(os.geteuid())
        return
    if shutil.which("useradd") is None or shutil.which("runuser") is None:
        pytest.skip("running as root without useradd/runuser: cannot drop privileges")
    name = f"tl-svc-{uuid.uuid4().hex[:8]}"
    subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--shell",
                    "/usr/sbin/nologin", name], check=True, capture_output=True)
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], check=False, capture_output=True)


def _as_user(user: pwd.struct_passwd, argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", user.pw_name, "--", *argv]


def _interpreter(user: pwd.struct_passwd) -> tuple[list[str], dict[str, str]]:
    """A Python the user may run, with this checkout and its installed packages importable:
    this interpreter, else the system's of the same minor version (ours may live in a
    folder only root can enter)."""
    site = next(p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir())
    path = {"PYTHONPATH": f"{REPO}{os.pathsep}{site}"}
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (sys.executable, f"/usr/bin/{version}", f"/usr/local/bin/{version}"):
        if not Path(candidate).exists():
            continue
        probe = subprocess.run(_as_user(user, ["env", f"PYTHONPATH={path['PYTHONPATH']}",
                                               candidate, "-c", "import services.cli"]),
                               capture_output=True, text=True, timeout=60, check=False)
        if probe.returncode == 0:
            return [candidate], path
    pytest.skip(f"no Python {sys.version_info.major}.{sys.version_info.minor} that "
                f"{user.pw_name} may run can import the project (the test interpreter "
                f"{sys.executable} is in a folder the user cannot enter)")


@pytest.fixture
def fresh_database(postgres_server_url: str) -> Iterator[tuple[str, str]]:
    """An empty database and a runtime role name that are dropped afterwards."""
    admin = make_url(postgres_server_url).set(drivername="postgresql")
    name, role = f"tl_compose_{uuid.uuid4().hex[:8]}", f"tl_app_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield name, role
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'DROP ROLE IF EXISTS "{role}"')


def _run_init_script(server_url: str, database: str, role: str, password: str) -> None:
    """infra/docker/postgres-init.sh as the postgres image runs it on first start."""
    if shutil.which("psql") is None:
        pytest.skip("psql is not installed: cannot run infra/docker/postgres-init.sh")
    url = make_url(server_url)
    env = {**os.environ, "POSTGRES_USER": url.username or "postgres", "POSTGRES_DB": database,
           "TRIAL_LEDGER_RUNTIME_ROLE": role, "TRIAL_LEDGER_APP_DB_PASSWORD": password,
           "PGHOST": url.host or "127.0.0.1", "PGPORT": str(url.port or 5432)}
    if url.password:
        env["PGPASSWORD"] = url.password
    done = subprocess.run(["sh", str(INIT_SCRIPT)], env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr


def test_the_containers_commands_as_an_unprivileged_user_share_one_signing_key(
        postgres_server_url: str, fresh_database: tuple[str, str],
        service_user: pwd.struct_passwd) -> None:
    database, role = fresh_database
    app_password = secrets.token_urlsafe(24)
    _run_init_script(postgres_server_url, database, role, app_password)
    owner = make_url(postgres_server_url).set(drivername="postgresql", database=database)
    with psycopg.connect(owner.render_as_string(hide_password=False)) as conn:
        assert conn.execute("SELECT rolcanlogin, rolsuper FROM pg_roles WHERE rolname = %s",
                            (role,)).fetchone() == (True, False)
    runtime = owner.set(username=role, password=app_password)
    python, path = _interpreter(service_user)

    # WORKDIR /var/lib/trial-ledger and its 0700 secrets folder, as the image makes them
    home = Path(tempfile.mkdtemp(prefix="trial-ledger-home-", dir="/tmp"))
    secrets_dir = home / "secrets"
    secrets_dir.mkdir(mode=0o700)
    for folder in (home, secrets_dir):
        os.chown(folder, service_user.pw_uid, service_user.pw_gid)
    home.chmod(0o755)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), **path,
           "TRIAL_LEDGER_DATABASE_URL": runtime.render_as_string(hide_password=False),
           "TRIAL_LEDGER_RUNTIME_ROLE": role,
           "TRIAL_LEDGER_JWT_SECRET": secrets.token_urlsafe(48),
           "TRIAL_LEDGER_SECRETS_DIR": str(secrets_dir)}
    cli = [*python, "-m", "services.cli"]
    processes: list[subprocess.Popen[str]] = []

    def command(*args: str, extra: dict[str, str] | None = None, stdin: str = ""
                ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(_as_user(service_user, ["env", *[f"{k}={v}" for k, v in
                                                              {**env, **(extra or {})}.items()],
                                                      *cli, *args]),
                              input=stdin, capture_output=True, text=True, cwd=home, timeout=120,
                              check=False)

    def start(*args: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            _as_user(service_user, ["env", *[f"{k}={v}" for k, v in env.items()], *cli, *args]),
            cwd=home, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        processes.append(process)
        return process

    try:
        migrated = command("db", "upgrade", extra={
            "TRIAL_LEDGER_MIGRATION_DATABASE_URL": owner.render_as_string(hide_password=False)})
        assert migrated.returncode == 0, migrated.stderr
        # the first account, as `docker compose run --rm api trial-ledger users add ...`
        password = "correct horse battery staple"
        added = command("users", "add", "qa", "--role", "auditor", "--password-stdin",
                        stdin=password + "\n")
        assert added.returncode == 0, added.stderr

        port = free_port()
        api = start("serve", "--host", "127.0.0.1", "--port", str(port), "--no-worker")
        worker = start("project", "--checkpoint-every", "0.5", "--interval", "0.2")
        base = f"http://127.0.0.1:{port}"
        if not serving(base, api, worker):
            pytest.fail("the API did not start: " + "".join(
                p.stderr.read() for p in (api, worker) if p.poll() is not None and p.stderr))
        token = httpx.post(f"{base}/api/v1/auth/token",
                           data={"username": "qa", "password": password}).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        for _ in range(100):  # the worker signs once it sees the log has grown
            latest = httpx.get(f"{base}/api/v1/ledger/checkpoints/latest", headers=headers)
            if latest.status_code == 200:
                break
            time.sleep(0.2)
        assert latest.status_code == 200, latest.text
        checkpoint = latest.json()
        published = httpx.get(f"{base}/api/v1/ledger/public-key", headers=headers)
        assert published.status_code == 200, published.text
        key = base64.b64decode(published.json()["public_key"])
        assert published.json()["key_id"] == checkpoint["key_id"]
        assert fmt.verify_checkpoint(key, checkpoint["body"],
                                     base64.b64decode(checkpoint["signature"]))
        assert api.poll() is None and worker.poll() is None
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()

    try:
        folder_info = secrets_dir.stat()
        assert (folder_info.st_uid, stat.S_IMODE(folder_info.st_mode)) == (
            service_user.pw_uid, 0o700)
        assert sorted(p.name for p in secrets_dir.iterdir()) == [KEY_FILE_NAME]
        info = (secrets_dir / KEY_FILE_NAME).stat()
        assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (service_user.pw_uid, 0o600)
        assert not list(home.glob("*.db"))  # everything went to PostgreSQL
    finally:
        shutil.rmtree(home, ignore_errors=True)
