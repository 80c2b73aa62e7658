module github.com/rarenet/rarenet/services/windower

go 1.26.0

require (
	github.com/google/uuid v1.6.0
	github.com/rarenet/rarenet/shared v0.0.0
)

require github.com/cespare/xxhash/v2 v2.3.0 // indirect

replace github.com/rarenet/rarenet/shared => ../../shared
