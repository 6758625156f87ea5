# berth as an image holding only /berth, for `COPY --from=berth /berth /berth`.
#   docker build -t berth .
# The build stage needs a Rust image from a registry; on a machine without
# one, build the binary with cargo and use examples/Dockerfile.prebuilt.
FROM rust:1-alpine AS build
RUN apk add --no-cache musl-dev
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY .cargo .cargo
COPY src src
RUN cargo build --release --locked \
 && cp target/x86_64-unknown-linux-musl/release/berth /berth

FROM scratch
COPY --from=build /berth /berth
ENTRYPOINT ["/berth"]
