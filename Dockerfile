# An image of the gateway. Build:  docker build -t probegate .
# Run:  docker run --rm -p 8080:8080 -v "$PWD/gateway.yaml:/etc/probegate/gateway.yaml:ro" probegate
# Inside a container, listeners must bind 0.0.0.0 (bindAddress) to be reached through -p, and an
# admin API on 0.0.0.0 needs a token (admin.token or admin.tokenFile).
# The build stage has a C compiler, so the wheel carries the compiled data path (mypyc); the image
# itself has no compiler. `probegate --version` in the image says "data path: compiled".
FROM python:3.12-slim AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /build
COPY pyproject.toml setup.py mypyc.ini README.md ./
COPY src ./src
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.12-slim
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index /wheels/*.whl \
    && rm -rf /wheels \
    && useradd --system --no-create-home --shell /usr/sbin/nologin probegate

USER probegate
WORKDIR /
EXPOSE 8080 9090
STOPSIGNAL SIGTERM
ENTRYPOINT ["probegate"]
CMD ["run", "-c", "/etc/probegate/gateway.yaml"]
