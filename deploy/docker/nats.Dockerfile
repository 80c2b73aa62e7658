# A NATS server image built without pulling: FROM scratch with the static nats-server binary
# that `go install github.com/nats-io/nats-server/v2@v2.15.2` builds (CGO_ENABLED=0). Laid out
# like the official `nats` image (entrypoint /nats-server), so docker-compose.yml runs either.
#
#   podman build -t localhost/rarenet-nats:local -f deploy/docker/nats.Dockerfile DIR-WITH-nats-server
FROM scratch
COPY nats-server /nats-server
EXPOSE 4222 6222 8222
ENTRYPOINT ["/nats-server"]
CMD ["--config", "/etc/nats/nats-server.conf"]
