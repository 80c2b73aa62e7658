module github.com/rarenet/rarenet/services/console

go 1.26.0

require (
	github.com/chromedp/cdproto v0.160.1
	github.com/chromedp/chromedp v0.23.1
	github.com/nats-io/nats-server/v2 v2.15.2
	github.com/nats-io/nats.go v1.55.0
	github.com/rarenet/rarenet/services/enricher v0.0.0
	github.com/rarenet/rarenet/services/rarenet v0.0.0
	github.com/rarenet/rarenet/services/scorer v0.0.0
	github.com/rarenet/rarenet/services/windower v0.0.0
	github.com/rarenet/rarenet/shared v0.0.0
)

require (
	github.com/BurntSushi/toml v1.6.0 // indirect
	github.com/antithesishq/antithesis-sdk-go v0.8.0-default-no-op // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect
	github.com/google/go-tpm v0.9.8 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/maxmind/mmdbwriter v1.2.0 // indirect
	github.com/minio/highwayhash v1.0.4 // indirect
	github.com/nats-io/jwt/v2 v2.8.2 // indirect
	github.com/nats-io/nkeys v0.4.16 // indirect
	github.com/nats-io/nuid v1.0.1 // indirect
	github.com/oschwald/maxminddb-golang/v2 v2.9.0 // indirect
	github.com/philhofer/fwd v1.2.0 // indirect
	github.com/rarenet/rarenet/services/ingest v0.0.0 // indirect
	github.com/tinylib/msgp v1.6.5 // indirect
	go4.org/netipx v0.0.0-20231129151722-fdeea329fbba // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/time v0.16.0 // indirect
)

replace github.com/rarenet/rarenet/shared => ../../shared

replace github.com/rarenet/rarenet/services/enricher => ../enricher

replace github.com/rarenet/rarenet/services/windower => ../windower

replace github.com/rarenet/rarenet/services/rarenet => ../rarenet

replace github.com/rarenet/rarenet/services/ingest => ../ingest

replace github.com/rarenet/rarenet/services/scorer => ../scorer
