"""Reading a converted hls4ml model into the portable network (:mod:`l1ad.firmware.network`).

The layers, weights and every precision come from hls4ml's own model graph after its optimizers have run (the same
objects its C++ writer prints), so what the emulator runs is what hls4ml compiles and would synthesize. A layer or
type that has no exact rule here is refused with a one-line error naming it, never approximated.
"""

from __future__ import annotations

import numpy as np

from l1ad.firmware.emulator import EmulationError
from l1ad.firmware.fixed import FixedType, cast, mantissas
from l1ad.firmware.network import (
    AvgPool2DLayer,
    BatchNormLayer,
    ConcatenateLayer,
    Conv2DLayer,
    DenseLayer,
    FixedNetwork,
    InputLayer,
    QuantizeLayer,
    ReluLayer,
    ReshapeLayer,
    UpSample2DLayer,
    ZeroPad2DLayer,
)


def fixed_type(precision, where: str) -> FixedType:
    """An hls4ml precision object (ap_fixed, ap_int, ap_ufixed, ap_uint) as a :class:`FixedType`."""
    kind = type(precision).__name__
    if not hasattr(precision, "width") or "Xnor" in kind or "Exponent" in kind:
        raise EmulationError(f"{where}: precision {precision} ({kind}) has no exact fixed-point rule in the emulator")
    rounding = getattr(precision, "rounding_mode", None)
    overflow = getattr(precision, "saturation_mode", None)
    if getattr(precision, "saturation_bits", 0) not in (0, None):
        raise EmulationError(f"{where}: precision {precision} uses saturation bits, which the emulator does not model")
    integer = getattr(precision, "integer", precision.width)
    try:
        return FixedType(width=int(precision.width), integer=int(integer), signed=bool(precision.signed),
                         rounding=rounding.name if rounding is not None else "TRN",
                         overflow=overflow.name if overflow is not None else "WRAP")
    except ValueError as exc:
        raise EmulationError(f"{where}: precision {precision} is outside what the emulator represents exactly "
                             f"({exc.errors()[0]['msg'] if hasattr(exc, 'errors') else exc})") from None


def _type_of(layer, attribute: str) -> FixedType:
    return fixed_type(layer.get_attr(attribute).precision, f"layer {layer.name!r} {attribute}")


def _result_type(layer) -> FixedType:
    return fixed_type(layer.get_output_variable().type.precision, f"layer {layer.name!r} result")


def _weight_mantissas(layer, key: str) -> tuple[np.ndarray, FixedType]:
    """A weight variable's values as the C++ model holds them, as mantissas of its type.

    hls4ml prints every weight as decimal text with as many digits as the type has fractional bits, and the C++ model
    reads that text into the ap_fixed type (a cast with its rounding mode): exact for quantized (QKeras) weights,
    rounded for float ones, and emulated here the same way.
    """
    variable = layer.weights[key]
    t = fixed_type(variable.type.precision, f"layer {layer.name!r} {key}")
    printed = np.array([float(text) for text in variable], dtype=np.float64).reshape(np.shape(variable.data))
    return mantissas(cast(printed, t), t), t


def _input_name(layer) -> str:
    if len(layer.inputs) != 1:
        raise EmulationError(f"layer {layer.name!r}: {len(layer.inputs)} inputs where one is expected")
    return layer.inputs[0]


def _dense(layer):
    weight, weight_type = _weight_mantissas(layer, "weight")
    bias, bias_type = _weight_mantissas(layer, "bias")
    return DenseLayer(name=layer.name, input=_input_name(layer), weight=weight.reshape(weight.shape[0], -1).tolist(),
                      weight_type=weight_type, bias=bias.ravel().tolist(), bias_type=bias_type,
                      accum_type=_type_of(layer, "accum_t"), type=_result_type(layer))


def _conv2d(layer):
    weight, weight_type = _weight_mantissas(layer, "weight")
    bias, bias_type = _weight_mantissas(layer, "bias")
    a = layer.get_attr
    if a("data_format", "channels_last") != "channels_last":
        raise EmulationError(f"layer {layer.name!r}: only channels_last convolutions are emulated")
    shape = (a("filt_height"), a("filt_width"), a("n_chan"), a("n_filt"))
    return Conv2DLayer(name=layer.name, input=_input_name(layer), kernel_shape=shape, weight=weight.ravel().tolist(),
                       weight_type=weight_type, bias=bias.ravel().tolist(), bias_type=bias_type,
                       accum_type=_type_of(layer, "accum_t"), stride=(a("stride_height"), a("stride_width")),
                       padding=(a("pad_top"), a("pad_bottom"), a("pad_left"), a("pad_right")), type=_result_type(layer))


def _pooling2d(layer):
    a = layer.get_attr
    if a("pool_op") != "Average" or any(a(p) for p in ("pad_top", "pad_bottom", "pad_left", "pad_right")):
        raise EmulationError(f"layer {layer.name!r}: only unpadded average pooling is emulated "
                             f"(got {a('pool_op')} pooling)")
    return AvgPool2DLayer(name=layer.name, input=_input_name(layer), pool=(a("pool_height"), a("pool_width")),
                          stride=(a("stride_height"), a("stride_width")), accum_type=_type_of(layer, "accum_t"),
                          type=_result_type(layer))


def _resize(layer):
    a = layer.get_attr
    if a("algorithm", "nearest") != "nearest":
        raise EmulationError(f"layer {layer.name!r}: only nearest-neighbour up-sampling is emulated")
    fh, fw = a("out_height") // a("in_height"), a("out_width") // a("in_width")
    if (fh * a("in_height"), fw * a("in_width")) != (a("out_height"), a("out_width")):
        raise EmulationError(f"layer {layer.name!r}: only integer up-sampling factors are emulated")
    return UpSample2DLayer(name=layer.name, input=_input_name(layer), factor=(fh, fw), type=_result_type(layer))


def _zeropad2d(layer):
    a = layer.get_attr
    return ZeroPad2DLayer(name=layer.name, input=_input_name(layer), type=_result_type(layer),
                          padding=(a("pad_top"), a("pad_bottom"), a("pad_left"), a("pad_right")))


def _activation(layer):
    activation = str(layer.get_attr("activation")).lower()
    cls = {"linear": QuantizeLayer, "relu": ReluLayer}.get(activation)
    if cls is None:
        raise EmulationError(f"layer {layer.name!r}: activation {activation!r} is not emulated (linear and relu are)")
    return cls(name=layer.name, input=_input_name(layer), type=_result_type(layer))


def _batchnorm(layer):
    scale, scale_type = _weight_mantissas(layer, "scale")
    bias, bias_type = _weight_mantissas(layer, "bias")
    return BatchNormLayer(name=layer.name, input=_input_name(layer), scale=scale.ravel().tolist(), scale_type=scale_type,
                          bias=bias.ravel().tolist(), bias_type=bias_type, type=_result_type(layer))


def _concatenate(layer):
    if layer.get_attr("axis", -1) not in (-1, 1):
        raise EmulationError(f"layer {layer.name!r}: only concatenation along the last axis of flat inputs is emulated")
    return ConcatenateLayer(name=layer.name, inputs=list(layer.inputs), type=_result_type(layer))


def _reshape(layer):
    return ReshapeLayer(name=layer.name, input=_input_name(layer),
                        shape=[int(s) for s in layer.get_output_variable().shape])


_READERS = {
    "Dense": _dense, "Conv2D": _conv2d, "Pooling2D": _pooling2d, "Resize": _resize, "ZeroPadding2D": _zeropad2d,
    "Activation": _activation, "BatchNormalization": _batchnorm, "Concatenate": _concatenate, "Reshape": _reshape,
}


def _hls_kind(layer) -> str:
    """hls4ml's layer class without the backend prefix (VitisDense -> Dense)."""
    name = type(layer).__name__
    for prefix in ("Vitis", "Vivado"):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def network_from_hls(hls_model, *, model: str) -> FixedNetwork:
    """The portable network of a converted hls4ml model (``io_parallel``; any strategy, as the arithmetic is the same).

    Raises
    ------
    EmulationError
        For a layer or precision the emulator has no exact rule for (the message names the model and layer).
    """
    if hls_model.config.get_config_value("IOType") != "io_parallel":
        raise EmulationError(f"{model}: only io_parallel hls4ml models are emulated")
    layers = []
    for layer in hls_model.get_layers():
        kind = _hls_kind(layer)
        if kind == "Input":
            layers.append(InputLayer(name=layer.name, shape=[int(s) for s in layer.get_output_variable().shape],
                                     type=_result_type(layer)))
            continue
        reader = _READERS.get(kind)
        if reader is None:
            raise EmulationError(f"{model}: layer {layer.name!r} ({layer.class_name}) is not supported by the emulator")
        try:
            layers.append(reader(layer))
        except EmulationError as exc:
            raise EmulationError(f"{model}: {exc}") from None
    by_variable = {layer.get_output_variable().name: layer.name for layer in hls_model.get_layers()}
    outputs = [by_variable[v.name] for v in hls_model.get_output_variables()]
    return FixedNetwork(model=model, layers=layers, outputs=outputs,
                        source="hls4ml model graph after conversion (layers, integer weights, precisions)")
