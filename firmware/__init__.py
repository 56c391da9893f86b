"""Firmware: hls4ml projects of saved models, the bit-accurate C++ emulation and its agreement with Keras."""
