# An image of the gateway. Build:  docker build -t probegate .
# Run:  docker run --rm -p 8080:8080 -v "$PWD/gateway.yaml:/etc/probegate/gateway.yaml:ro" probegate
# Inside a container, listeners must bind 0.0.0.0 (bindAddress) to be reached through -p, and an
# admin API on 0.0.0.0 needs a token (admin.token or admin.tokenFile).
FROM python:3.12-slim

WORKDIR /build
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir . \
    && rm -rf /build \
    && useradd --system --no-create-home --shell /usr/sbin/nologin probegate

USER probegate
WORKDIR /
EXPOSE 8080 9090
STOPSIGNAL SIGTERM
ENTRYPOINT ["probegate"]
CMD ["run", "-c", "/etc/probegate/gateway.yaml"]
