# Thin front door: meson builds, these targets only sequence scripts.
.PHONY: all build demo check unit e2e fuzz bench format clean deps

all: build

deps:
	@scripts/install-deps

build: deps
	@[ -d build ] || meson setup build
	ninja -C build

demo: deps build
	scripts/demo

# Every test, twice: gcc with ASan+UBSan, then clang; QEMU once. Ends with "N passed, N failed,
# N skipped", the failures, known failures and skips listed above it (docs/TESTING.md).
check: deps
	scripts/check

fuzz: deps
	scripts/fuzz $(if $(SECONDS),$(SECONDS),60)

bench: deps build
	bench/run-all

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-clang build-fuzz
