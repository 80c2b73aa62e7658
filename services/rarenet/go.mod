module github.com/rarenet/rarenet/services/rarenet

go 1.26.0

require (
	github.com/google/uuid v1.6.0
	github.com/nats-io/nats-server/v2 v2.15.2
	github.com/nats-io/nats.go v1.55.0
	github.com/rarenet/rarenet/services/console v0.0.0
	github.com/rarenet/rarenet/services/enricher v0.0.0
	github.com/rarenet/rarenet/services/ingest v0.0.0
	github.com/rarenet/rarenet/services/notify v0.0.0
	github.com/rarenet/rarenet/services/scorer v0.0.0
	github.com/rarenet/rarenet/services/sources v0.0.0
	github.com/rarenet/rarenet/services/windower v0.0.0
	github.com/rarenet/rarenet/shared v0.0.0
	github.com/schollz/progressbar/v3 v3.19.1
	golang.org/x/term v0.47.0
)

require (
	github.com/BurntSushi/toml v1.6.0 // indirect
	github.com/antithesishq/antithesis-sdk-go v0.8.0-default-no-op // indirect
	github.com/beorn7/perks v1.0.1 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/cilium/ebpf v0.22.0 // indirect
	github.com/google/go-tpm v0.9.8 // indirect
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/leodido/go-syslog/v4 v4.6.0 // indirect
	github.com/maxmind/mmdbwriter v1.2.0 // indirect
	github.com/minio/highwayhash v1.0.4 // indirect
	github.com/mitchellh/colorstring v0.0.0-20190213212951-d06e56a500db // indirect
	github.com/munnerz/goautoneg v0.0.0-20191010083416-a7dc8b61c822 // indirect
	github.com/nats-io/jwt/v2 v2.8.2 // indirect
	github.com/nats-io/nkeys v0.4.16 // indirect
	github.com/nats-io/nuid v1.0.1 // indirect
	github.com/oschwald/maxminddb-golang/v2 v2.9.0 // indirect
	github.com/philhofer/fwd v1.2.0 // indirect
	github.com/prometheus/client_golang v1.25.0 // indirect
	github.com/prometheus/client_model v0.6.3 // indirect
	github.com/prometheus/common v0.72.0 // indirect
	github.com/prometheus/procfs v0.22.0 // indirect
	github.com/rivo/uniseg v0.4.7 // indirect
	github.com/tinylib/msgp v1.6.5 // indirect
	github.com/valyala/fastjson v1.6.10 // indirect
	github.com/wneessen/go-mail v0.8.1 // indirect
	go4.org/netipx v0.0.0-20231129151722-fdeea329fbba // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/text v0.43.0 // indirect
	golang.org/x/time v0.16.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
	kernel.org/pub/linux/libs/security/libcap/cap v1.2.78 // indirect
	kernel.org/pub/linux/libs/security/libcap/psx v1.2.78 // indirect
)

replace github.com/rarenet/rarenet/shared => ../../shared

replace github.com/rarenet/rarenet/services/ingest => ../ingest

replace github.com/rarenet/rarenet/services/scorer => ../scorer

replace github.com/rarenet/rarenet/services/sources => ../sources

replace github.com/rarenet/rarenet/services/enricher => ../enricher

replace github.com/rarenet/rarenet/services/windower => ../windower

replace github.com/rarenet/rarenet/services/notify => ../notify

replace github.com/rarenet/rarenet/services/console => ../console
