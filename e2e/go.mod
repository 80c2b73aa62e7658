module github.com/rarenet/rarenet/e2e

go 1.26.0

replace github.com/rarenet/rarenet/shared => ../shared

replace github.com/rarenet/rarenet/services/rarenet => ../services/rarenet

replace github.com/rarenet/rarenet/services/ingest => ../services/ingest

replace github.com/rarenet/rarenet/services/scorer => ../services/scorer

replace github.com/rarenet/rarenet/services/enricher => ../services/enricher

replace github.com/rarenet/rarenet/services/windower => ../services/windower
