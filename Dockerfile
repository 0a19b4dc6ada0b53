# The one image of byok-vault: worker (default), web app, migrations and, in dev, localaws.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    BYOK_HOME=/data

WORKDIR /app

# Dependencies first, from pyproject.toml alone, so a code change does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import subprocess, sys, tomllib; \
project = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
deps = project['dependencies'] + project['optional-dependencies']['otel']; \
subprocess.check_call([sys.executable, '-m', 'pip', 'install', *deps])"

COPY . .
RUN pip install --no-deps . \
    && useradd --system --uid 10001 --home-dir /data --create-home byok

USER byok
EXPOSE 8000 4566 9464
# Run under an init (compose `init: true`, `docker run --init`) so SIGTERM reaches the
# worker, which then drains (BYOK_WORKER_SHUTDOWN_SECONDS) and exits 0.
CMD ["python", "worker.py"]
