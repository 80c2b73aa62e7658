module github.com/rarenet/rarenet/services/rarenet

go 1.26.0

require github.com/rarenet/rarenet/shared v0.0.0

replace github.com/rarenet/rarenet/shared => ../../shared
