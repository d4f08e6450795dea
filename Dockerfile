# syntax=docker/dockerfile:1.6
# crftag serve in a container: crftag[serve] only, the named model and numba's compiled kernels
# built into the image, a non-root user, a health check on /healthz.
#
#   docker build -t crftag .                                   # data from the upstream URLs
#   docker build -t crftag --build-context mirror=../shared .  # data from a local mirror
#   docker run -p 8080:8080 --memory 1g crftag
#
# (README, "Running in a container": probes, workers, memory.)

# empty unless `--build-context mirror=DIR` gives a registry mirror (such as ../shared)
FROM scratch AS mirror

FROM python:3.11-slim
ARG CRFTAG_MODEL=wnut16-twitter
ENV CRFTAG_MODEL=${CRFTAG_MODEL} \
    CRFTAG_HOME=/opt/crftag/home \
    NUMBA_CACHE_DIR=/opt/crftag/numba-cache \
    PATH=/opt/crftag/venv/bin:$PATH \
    PYTHONUNBUFFERED=1
RUN useradd --system --uid 10001 --no-create-home --home-dir /nonexistent crftag
COPY . /src
RUN --mount=type=bind,from=mirror,target=/mirror \
    if [ -d /mirror/datasets ]; then export CRFTAG_MIRROR=/mirror; fi; \
    SRC=/src PREFIX=/opt/crftag RUN_USER=crftag sh /src/docker/build-image.sh && rm -rf /src
USER crftag
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"]
CMD ["sh", "-c", "exec crftag serve -m \"$CRFTAG_MODEL\" --host 0.0.0.0 --port 8080"]
