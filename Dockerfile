# One image for every service of docker-compose.yaml: Airflow 3.3.2 components (api-server,
# scheduler, dag-processor, triggerer, Celery workers) and the local AWS server (`lambdapipe local`).
# Python packages are installed by uv from uv.lock: the versions the test suite runs, Airflow 3.3.2
# included. The repository layout is kept under /opt/lambdapipe (dags/, plugins/, lambda_functions/,
# include/), as `make run` uses it; the package is installed editable from plugins/, like in .venv.
# Validated by tests/test_compose.py; not built on the development machines (no Docker engine).

# Node.js 20 runs the Node.js Lambda handlers in the local AWS server and builds their packages.
FROM node:20-bookworm-slim AS node

FROM python:3.11-slim-bookworm

# The uv release the Makefile installs (UV_VERSION); the AWS SDK for Node.js handlers as
# `make install` pins it (NODE_SDK_PACKAGES).
ARG UV_VERSION=0.13.9
ARG NODE_SDK_PACKAGES="@aws-sdk/client-s3@3.1175.0 @aws-sdk/client-dynamodb@3.1169.0"

ENV PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/opt/lambdapipe/.venv \
    PATH=/opt/lambdapipe/.venv/bin:$PATH \
    AIRFLOW_HOME=/opt/airflow \
    LAMBDAPIPE_NODE_SDK_DIR=/opt/lambdapipe/node-sdk

COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
    && pip install --no-cache-dir "uv==${UV_VERSION}" \
    && useradd --create-home --uid 50000 --gid 0 airflow \
    && mkdir -p /opt/airflow/local-aws /opt/lambdapipe \
    && chown airflow:0 /opt/airflow /opt/airflow/local-aws /opt/lambdapipe

USER airflow
WORKDIR /opt/lambdapipe

# Dependencies first, so a code change does not reinstall them.
COPY --chown=airflow:0 pyproject.toml uv.lock README.md ./
COPY --chown=airflow:0 packaging/lambdapipe-local/ packaging/lambdapipe-local/
RUN uv sync --frozen --no-dev --extra celery --extra local --no-install-workspace --no-cache
COPY --chown=airflow:0 plugins/ plugins/
RUN uv sync --frozen --no-dev --extra celery --extra local --no-cache

RUN npm install --prefix "$LAMBDAPIPE_NODE_SDK_DIR" --no-audit --no-fund --save-exact --loglevel=error \
        $NODE_SDK_PACKAGES \
    && npm cache clean --force

COPY --chown=airflow:0 dags/ dags/
COPY --chown=airflow:0 lambda_functions/ lambda_functions/
COPY --chown=airflow:0 include/ include/

WORKDIR /opt/airflow
