# syntax=docker/dockerfile:1
# The hub's Airflow image: Airflow's official image plus the runtime wheel (siapp_siasn only,
# versions pinned by uv.lock through dist/constraints.txt) and dags/. Build `make wheel` first.
#   docker build --target runtime -t siapp-siasn-airflow:0.1.0 .   (what docker compose builds)
#   docker build --target sandbox -t siapp-siasn-airflow:0.1.0-sandbox .   (+ the emulators)
ARG AIRFLOW_IMAGE=apache/airflow:3.3.2-python3.11

FROM ${AIRFLOW_IMAGE} AS runtime
# AIRFLOW_VERSION comes from the base image: pip keeps that Airflow while installing the hub
COPY --chown=airflow:0 dist/siapp_siasn-*.whl dist/constraints.txt /tmp/hub/
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" \
        /tmp/hub/siapp_siasn-*.whl -c /tmp/hub/constraints.txt \
    && rm -rf /tmp/hub
# The DAG files are baked in (AIRFLOW__CORE__DAGS_FOLDER in deploy/airflow.env), and include/
# (the SIASN contract and payload schemas) beside them; the hub's code is the installed wheel,
# so plugins/ carries no second copy of it.
COPY --chown=airflow:0 dags/ /opt/airflow/dags/
COPY --chown=airflow:0 include/ /opt/airflow/include/
# The cluster policy ($AIRFLOW_HOME/config is on Airflow's path): every task that calls SIASN
# takes a slot of the pool siasn_api, which airflow-init creates (README: Scale on paper)
COPY --chown=airflow:0 deploy/airflow_local_settings.py /opt/airflow/config/airflow_local_settings.py

# Development and acceptance only: the SIASN and SIAPP NV emulators (the `siapp-sandbox`
# workspace member, from the checkout) for the compose profile `sandbox`. Never deployed.
FROM runtime AS sandbox
COPY --chown=airflow:0 dist/constraints.txt /tmp/hub/
COPY --chown=airflow:0 sandbox/ /tmp/siapp-sandbox/
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" /tmp/siapp-sandbox \
        -c /tmp/hub/constraints.txt \
    && rm -rf /tmp/hub /tmp/siapp-sandbox
