"""FPGA parts the firmware figures are expressed against (resource totals from the vendor data sheets, as collected in
the project's reference anchors): resources are reported as counts and as a percentage of the part."""

from __future__ import annotations

from pydantic import Field

from l1ad.config.base import StrictModel


class FpgaPart(StrictModel):
    name: str
    alias: str = Field(description="the short name people use (VU13P)")
    family: str = Field(description="yosys synth_xilinx family")
    lut: int
    ff: int
    dsp: int
    bram36: int
    uram: int


FPGA_PARTS: dict[str, FpgaPart] = {
    part.name: part for part in (
        FpgaPart(name="xcvu13p-flga2577-2-e", alias="VU13P", family="xcup", lut=1_728_000, ff=3_456_000, dsp=12_288, bram36=2_688,
                 uram=1_280),
        FpgaPart(name="xcvu9p-flga2104-2L-e", alias="VU9P", family="xcup", lut=1_182_240, ff=2_364_480, dsp=6_840, bram36=2_160,
                 uram=960),
    )
}
DEFAULT_PART = "xcvu13p-flga2577-2-e"
DEFAULT_CLOCK_MHZ = 240.0  # CMS Phase-2 trigger firmware runs at 240-360 MHz


def find_part(name: str) -> FpgaPart | None:
    """The part named by its full name (``xcvu13p-flga2577-2-e``) or alias (``VU13P``, any case); None if unknown."""
    for part in FPGA_PARTS.values():
        if name.lower() in (part.name.lower(), part.alias.lower()):
            return part
    return None


def known_parts() -> str:
    return ", ".join(f"{part.alias} ({part.name})" for part in FPGA_PARTS.values())
