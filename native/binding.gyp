{
  "targets": [
    {
      "target_name": "bdlab_native",
      "sources": ["src/addon.cc"],
      "include_dirs": [
        "<!@(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node find-libtorch.cjs include)"
      ],
      "defines": ["NAPI_VERSION=8", "<!@(node find-libtorch.cjs defines)"],
      "libraries": ["<!@(node find-libtorch.cjs libs)"],
      "cflags!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-frtti", "-O2", "-Wno-unused-parameter", "-Wno-deprecated-declarations"]
    },
    {
      "target_name": "bdlab_codec",
      "sources": ["src/codec.cc", "src/jpeg_patch.cc"],
      "include_dirs": ["<!@(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "libraries": ["-ljpeg", "-lpng16", "-lz"],
      "cflags_cc": ["-O2", "-Wno-unused-parameter", "-Wno-clobbered"]
    }
  ]
}
