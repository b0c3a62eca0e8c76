module local.test/nodeimages

go 1.26.0
