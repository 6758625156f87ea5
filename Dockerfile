# The berth image: FROM scratch, holding only /berth, for
#   COPY --from=berth /berth /berth
# in any Dockerfile. It packages a release binary of scripts/release.sh
# (the bytes SHA256SUMS lists), one image per architecture: the build
# context is that architecture's directory, which also makes it work with
# the classic builder (no build argument, no registry).
#
#   bash scripts/release.sh     # target/dist/platform/linux/{amd64,arm64}/berth
#   docker build --platform linux/amd64 -t berth:amd64 -f Dockerfile target/dist/platform/linux/amd64
#   docker build --platform linux/arm64 -t berth:arm64 -f Dockerfile target/dist/platform/linux/arm64
#
# The README ("Images for amd64 and arm64") combines the two into one
# multi-platform image.
FROM scratch
COPY berth /berth
ENTRYPOINT ["/berth"]
