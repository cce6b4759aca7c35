#!/usr/bin/env bash
# Build llama.cpp's own server from the vendor/llama.cpp tree of the llama-cpp-python sdist
# that .venv has installed (same llama.cpp version, same CPU flags as the Makefile), into
# bench/.build/. Used by bench/serving.py as the C++ peer.
set -euo pipefail
cd "$(dirname "$0")"
version=$(../.venv/bin/python -c 'import importlib.metadata as m; print(m.version("llama-cpp-python"))')
out=.build
mkdir -p "$out"
if [ ! -x "$out/llama-server" ]; then
  ../.venv/bin/python -m pip download --quiet --no-deps --no-binary :all: \
    "llama-cpp-python==$version" -d "$out/sdist"
  tar -xzf "$out"/sdist/llama_cpp_python-"$version".tar.gz -C "$out"
  src="$out/llama_cpp_python-$version/vendor/llama.cpp"
  cmake -S "$src" -B "$out/cmake" -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON \
    -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
  cmake --build "$out/cmake" --target llama-server -j 2
  cp "$out/cmake/bin/llama-server" "$out/llama-server"
fi
echo "$PWD/$out/llama-server"
