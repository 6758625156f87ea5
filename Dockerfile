# The berth image: FROM scratch, holding only /berth, for
#   COPY --from=berth /berth /berth
# in any Dockerfile. It packages a release binary of scripts/release.sh
# (the bytes SHA256SUMS lists), one image per platform: the build context
# is that platform's directory, which also makes it work with the classic
# builder (no build argument, no registry). The platforms are those of
# scripts/arches.sh: linux/amd64, linux/arm64, linux/arm/v7, linux/arm/v6,
# linux/386, linux/ppc64le, linux/riscv64 and linux/s390x.
#
#   bash scripts/release.sh     # target/dist/platform/linux/{amd64,arm64,arm/v7,...}/berth
#   docker build --platform linux/amd64 -t berth:amd64 -f Dockerfile target/dist/platform/linux/amd64
#   docker build --platform linux/arm/v6 -t berth:armv6 -f Dockerfile target/dist/platform/linux/arm/v6
#
# The README ("Images for every platform") builds all eight and combines
# them into one manifest list, from which `COPY --from=` takes the image of
# the platform being built.
FROM scratch
COPY berth /berth
ENTRYPOINT ["/berth"]
