"""Per-voice statistics for Kokoro's windowed generator (docs/kokoro-windows.md).

The shipped generator normalizes and quantizes every layer with statistics of the whole chunk, which a
window cannot see. They are measured instead, once per voice, on fixed sentences decoded whole, and a
chunk's statistics are then read off by its length:

- They depend most on the style row, which Kokoro picks by the chunk's phoneme count: the same sentence
  decoded with the statistics of row 90 instead of its own row 23 is 11 dB (log-mel) off. So the
  sentences are decoded at three anchor rows (`ANCHORS`, two sentences each), and a chunk interpolates
  between the two anchors around its row, linearly in the logarithm of the row (clamped at the ends).
- They depend on the language spoken (a French voice measured on English sentences: 2.6-3.0 dB, on
  French ones 2.1-2.3), so each language has its own sentences, chosen by the blend's heaviest pack.
- At an anchor, instance-norm means and variances are those of the sentences joined (law of total
  variance); quantizer ranges are the frame-weighted mean of the sentences' minima and maxima (the union
  of ranges quantizes every chunk more coarsely and measured worse). Scale and zero point follow from a
  range exactly as `DynamicQuantizeLinear` computes them.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

import numpy as np

from intone.engines.kokoro_layout import Layout

# Bump when the sentences, anchors, pooling or file format change, so stored statistics are remade.
VERSION = 1
# Phoneme counts (style rows) at which the sentences are decoded; sentences 2k and 2k + 1 of a
# language go to anchor k. Three anchors measured as well as calibrating at each chunk's own row.
ANCHORS = (16, 64, 256)
# The front end's IPA (espeak-ng 1.52; misaki for Mandarin) of six sentences per language: two short
# ones (20-70 ids) for the lowest anchor, where short chunks sit (they measured 0.15 dB better there
# than longer ones), then four of 60-120 ids. Fixed here so that the statistics do not move with the
# phonemizer. Japanese packs, which have no front end wired in, are measured on American English.
SENTENCES: dict[str, tuple[str, ...]] = {
    "en-US": (
        "ɹˈiːd vˈɜːs ˈaʊt lˈaʊd fɔːɹ plˈɛʒɚ.",
        "hˈɔɪst ðə lˈoʊd tə jʊɹ lˈɛft ʃˈoʊldɚ, ðˈɛn tˈeɪk ɪt hˈoʊm.",
        "ɪts ˈiːzi tə tˈɛl ðə dˈɛpθ əvə wˈɛl. ðiːz dˈeɪz ɐ tʃˈɪkɪn lˈɛɡ ɪz ɐ ɹˈɛɹ dˈɪʃ.",
        "wʊd juː lˈaɪk sˈɔlt, ɔːɹ ɐ lˈɪɾəl pˈɛpɚ? ðə sˈɔft kˈʊʃən bɹˈoʊk ðə mˈænz fˈɔːl.",
        "hˈɛlp ðə wˈʊmən ɡɛt bˈæk tə hɜː fˈiːt! fˈɔːɹ ˈaʊɚz ʌv stˈɛdi wˈɜːk fˈeɪsd ˌʌs.",
        "ɹˈaɪs ɪz ˈɔfən sˈɜːvd ɪn ɹˈaʊnd bˈoʊlz, ænd ðə dʒˈuːs ʌv lˈɛmənz mˌeɪks fˈaɪn pˈʌntʃ.",
    ),
    "en-GB": (
        "ɹˈiːd vˈɜːs ˈaʊt lˈaʊd fɔː plˈɛʒə.",
        "hˈɔɪst ðə lˈəʊd tə jɔː lˈɛft ʃˈəʊldə, ðˈɛn tˈeɪk ɪt hˈəʊm.",
        "ɪts ˈiːzi tə tˈɛl ðə dˈɛpθ əvə wˈɛl. ðiːz dˈeɪz ɐ tʃˈɪkɪn lˈɛɡ ɪz ɐ ɹˈeə dˈɪʃ.",
        "wʊd juː lˈaɪk sˈɒlt, ɔːɹ ɐ lˈɪtəl pˈɛpə? ðə sˈɒft kˈʊʃən bɹˈəʊk ðə mˈanz fˈɔːl.",
        "hˈɛlp ðə wˈʊmən ɡɛt bˈak tə hɜː fˈiːt! fˈɔːɹ ˈaʊəz ɒv stˈɛdi wˈɜːk fˈeɪsd ˌʌs.",
        "ɹˈaɪs ɪz ˈɒfən sˈɜːvd ɪn ɹˈaʊnd bˈəʊlz, and ðə dʒˈuːs ɒv lˈɛmənz mˌeɪks fˈaɪn pˈʌntʃ.",
    ),
    "es": (
        "lˈee em bˈoθ ˈalta poɾ plaθˈeɾ.",
        "sˈuβe la kˈaɾɣa a tu ˈombɾo iθkjˈeɾðo i ʎˈeβala a kˈasa.",
        "ʎuˈeβe ðˌesðe ˈesta maɲˈana, asˈi ke nos keðˈamos en kˈasa kon ˈum bwˈen lˈiβɾo.",
        "kjˈeɾes ˈun kafˈe, o pɾefjˈeɾes ˈum pˈoko ðe tˈe kon lˈetʃe i aθˈukaɾ?",
        "kwiðˈaðo! el tɾˈem pˌaɾa seβˈiʎa sˈale en θˈinko minˈutos ðel andˈen tɾˈes.",
        "los nˈiɲos xwˈeɣan en el xaɾðˈin, i su aβwˈela pɾepˈaɾa ˈuna tˈaɾta ðe manθˈana.",
    ),
    "fr": (
        "lˈi de- vˈɛʁz a vwˈa ˈot.",
        "mˈɔ̃t la- ʃˈaʁʒ syʁ tɔ̃n epˈol ɡˈoʃ, pyˈi ʁˈɑ̃tʁ ʃe twˈa.",
        "il plˈø dəpyˌi sə- matˈɛ̃, alˌɔʁ nu ʁɛstˈɔ̃z a la- mɛzˈɔ̃ avˌɛk œ̃ bˈɔ̃ lˈivʁ.",
        "ɛs kə ty vˈø dy- kafˈe, u pʁefˈɛʁty œ̃ pø də- tˈe avˌɛk dy- lˈɛ ?",
        "atɑ̃sjˈɔ̃ ! lə- tʁˈɛ̃ puʁ ljˈɔ̃ pˈaʁ dɑ̃ sˈɛ̃k minˈyt dy- kˈe nymeʁˈo tʁwˈa.",
        "le-z ɑ̃fˈɑ̃ ʒw dɑ̃ lə- ʒaʁdˈɛ̃, e lœʁ ɡʁˈɑ̃mˈɛʁ pʁepˈaʁ yn tˈaʁt o pˈɔm.",
    ),
    "it": (
        "lˈedʒːˌɪ i vˈersɪ ad ˈalta vˈotʃe.",
        "ˈaltsa il kˈariko sˌʊlla spˈalla sinˈistra, pˈɔi pˈɔrtalo a kˈaza.",
        "pjˈɔve da stamatːˈina, kwˈindɪ restjˈamo a kˈaza kon ʊn bwˌɔn lˈibro.",
        "vʊˈɔi ʊn kaffˈɛ, o preferˈiʃɪ ʊn pˈo dɪ tˈɛ kon il lˈatːe e lo dzˈukːeɾo?",
        "atːentsiˈone! il trˈɛno per milˈano pˈarte tra tʃˈinkwe minˈutɪ dal binˈario trˈe.",
        "i bambˈinɪ dʒˈɔkano in dʒardˈino, e la nˈɔnna prepˈaɾa ˌʊna tˈɔrta dɪ mˈɛle.",
    ),
    "pt": (
        "lˈeɪæ vˈɛɾəsʊz ˈeɪŋ vˈɔz ˈaʊtæ.",
        "pˈoɲæ a kˈaɾəɡæ nʊ ˈombrw ˌeskˈeɾədw i lˈɛvy pˌaɾæ kˈazæ.",
        "estˌa ʃˌovˈeɪŋdʊ dˌezdʒy mɐ̃ɲˈɐ̃, eɪŋtˈɐ̃ʊ̃ fˌikˈɐ̃mʊz ˈeɪŋ kˈazæ koŋ ũŋ bˈoŋ lˈivrʊ.",
        "vosˌe kˈɛɾ ũŋ kafˈɛ, ow prˌefˈɛɾi ũŋ pˈowkʊ dʒy ʃˈa koŋ lˈeɪtʃj i ˌasˈukar?",
        "ˌateɪŋsˈɐ̃ʊ̃! ʊ trˈeɪŋ pˌaɾæ sɐ̃ʊ̃ pˈaʊlʊ sˈaɪ ˈeɪŋ sˈiŋkʊ mˌinˈutʊz da plˌatafˈɔɾəmæ trˈes.",
        "as krˌiˈɐ̃ŋsæz brˈiŋkɐ̃ʊ̃ nʊ ʒaɾədʒˈiŋ, i a avˈɔ prˌepˈaɾæ ˌumæ tˈɔɾətæ dʒy masˈɐ̃.",
    ),
    "hi": (
        "ɟˈə ɾˈə sˈə kˈʌʋ tˈə pˈʌɖʰ",
        "bˈə ɟʰˈə kˈə ˈʌpən bˈə ˈeː kˈə dʰˈə pˈʌɾ ˈʊʈʰ ˈoː ɔːɾ ɡʰˈʌɾ lˈə ɟˈə ˈoː",
        "sˈə bˈʌh sˈə bˈə ɾˈə ʃˈə hˈə ɾˈʌh hˈə, ˈɪsəl ˈeː hˌəm ˈeːk ˈʌc cʰˈə kˈə tˈə bˈə kˈə sˈə "
        "tʰˈə ɡʰˈʌɾ pˈʌɾ hˈə",
        "kˈə jə ˌaːp kˈə pʰˈə pˈə nˈə cˈə hˈə ɡˈə, jə dˈə dʰˈə ɔːɾ cˈə nˈə ʋˈə lˈə cˈə jə?",
        "sˈə ʋˈʌdʰ nˈə! dˈə lˈə lˈə ɟˈə nˈə ʋˈə lˈə ɡˈə ɖˈə pˈə cˈə mˈə nˈʌʈ mˈə pˈə lˈə ʈˈʌpʰ ɾˈə "
        "mˈə tˈə nˈə sˈə cʰˈə ʈˈə ɡˈə",
        "bˈʌc cˈə bˈʌɡ cˈə mˈə kʰˈə lˈə ɾˈʌh hˈə, ɔːɾ dˈə dˈə sˈə bˈə kˈə hˈʌləʋ bˈʌn ɾˈʌh hˈə",
    ),
    "zh": (
        "ta↘ʂə→ŋ tu↗ʂɨ→ pa.",
        "pa↓ tʊ→ŋɕi→ kʰa↗ŋ tau↘ ʦwo↓ ʨjɛ→nʂa↘ŋ, ɻa↗nxou↘ tai↘xwei↗ʨja→.",
        "ʦʰʊ↗ŋ ʦau↓ʂa↘ŋ kʰai→ʂɨ↓ ʨjou↘ i↘ꭧɨ↗ ɕja↘y↓, swo↓i↓ wo↓mən tai↘ʦai↘ʨja→li↓ kʰa↘n i→pə↓n xau↓ʂu→.",
        "ni↓ ɕja↓ŋ xɤ→kʰa→fei→, xai↗ʂɨ↘ xɤ→ i↘tjɛ↓n ʨja→ njou↗nai↓ xɤ↗ tʰa↗ŋ tɤ ꭧʰa↗?",
        "ꭧu↘i↘! kʰai→wa↓ŋ ʂa↘ŋxai↓ tɤ xwo↓ꭧʰɤ→ u↓fə→nꭧʊ→ŋ xou↘ ʦʰʊ↗ŋ sa→nxau↘ ꭧa↘ntʰai↗ ꭧʰu→fa→.",
        "xai↗ʦɨ mən ʦai↘ xwa→ɥɛ↗nli↓ wa↗n, nai↓nai↓ ꭧə↘ŋʦai↘ ʦwo↘ pʰi↗ŋkwo↓pʰai↘.",
    ),
}
_LEVELS = 255  # uint8


def sentence_set(locale: str) -> str:
    """The key in SENTENCES for a pack's locale ("en-GB", "pt-BR", ...)."""
    if locale in SENTENCES:
        return locale
    language = locale.split("-")[0]
    return language if language in SENTENCES else "en-US"


@dataclass(frozen=True)
class Measurement:
    """One decode's statistics, as the measuring model outputs them (in `Layout.measured()` order)."""

    frames: int
    values: tuple[np.ndarray, ...]


@dataclass(frozen=True)
class Calibration:
    """A voice's statistics at each anchor: per norm, means and variances (anchors x channels), and per
    quantizer the range (anchors x quantizers)."""

    means: tuple[np.ndarray, ...]
    variances: tuple[np.ndarray, ...]
    minima: np.ndarray
    maxima: np.ndarray

    @classmethod
    def pool(cls, anchors: list[list[Measurement]], layout: Layout) -> Calibration:
        """Pools the measurements of each anchor (in ANCHORS order)."""
        norms, quantizers = len(layout.norms), len(layout.quantizers)
        means: list[list[np.ndarray]] = [[] for _ in range(norms)]
        variances: list[list[np.ndarray]] = [[] for _ in range(norms)]
        minima, maxima = [], []
        for measurements in anchors:
            weights = np.array([m.frames for m in measurements], dtype=np.float64)
            weights /= weights.sum()
            for index in range(norms):
                each_mean = np.stack([m.values[index].reshape(-1) for m in measurements]).astype(np.float64)
                each_variance = np.stack([m.values[norms + index].reshape(-1) for m in measurements]).astype(
                    np.float64
                )
                mean = weights @ each_mean
                means[index].append(mean)
                variances[index].append(weights @ (each_variance + (each_mean - mean) ** 2))
            ranges = np.array([m.values[2 * norms :] for m in measurements], dtype=np.float64)
            minima.append(weights @ ranges[:, :quantizers])
            maxima.append(weights @ ranges[:, quantizers:])
        return cls(
            tuple(np.array(rows) for rows in means),
            tuple(np.array(rows) for rows in variances),
            np.array(minima),
            np.array(maxima),
        )

    def feeds(self, phonemes: int, layout: Layout) -> dict[str, np.ndarray]:
        """The generator's statistic inputs for a chunk of `phonemes` ids (its style row)."""
        position = np.interp(np.log(phonemes), np.log(ANCHORS), np.arange(len(ANCHORS)))
        low = int(np.floor(position))
        high = min(low + 1, len(ANCHORS) - 1)
        weight = position - low

        def at(rows: np.ndarray) -> np.ndarray:
            return (1 - weight) * rows[low] + weight * rows[high]

        feeds: dict[str, np.ndarray] = {}
        for norm, means, variances in zip(layout.norms, self.means, self.variances, strict=True):
            feeds[norm.mean] = at(means).astype(np.float32).reshape(1, -1, 1)
            feeds[norm.variance] = at(variances).astype(np.float32).reshape(1, -1, 1)
        scales, zero_points = quantization(
            at(self.minima).astype(np.float32), at(self.maxima).astype(np.float32)
        )
        for quantizer, scale, zero_point in zip(layout.quantizers, scales, zero_points, strict=True):
            feeds[quantizer.scale] = np.array(scale, dtype=np.float32)
            feeds[quantizer.zero_point] = np.array(zero_point, dtype=np.uint8)
        return feeds

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        arrays = {f"mean{index}": rows for index, rows in enumerate(self.means)}
        arrays |= {f"variance{index}": rows for index, rows in enumerate(self.variances)}
        np.savez(buffer, minima=self.minima, maxima=self.maxima, **arrays)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, layout: Layout) -> Calibration:
        """Raises KeyError or ValueError if `data` does not hold statistics that fit `layout`."""
        with np.load(io.BytesIO(data), allow_pickle=False) as stored:
            norms = range(len(layout.norms))
            calibration = cls(
                tuple(stored[f"mean{index}"] for index in norms),
                tuple(stored[f"variance{index}"] for index in norms),
                stored["minima"],
                stored["maxima"],
            )
        ranges = (len(ANCHORS), len(layout.quantizers))
        if calibration.minima.shape != ranges or calibration.maxima.shape != ranges:
            raise ValueError("stored statistics do not fit the generator's quantizers")
        if any(
            rows.ndim != 2 or len(rows) != len(ANCHORS)
            for rows in (*calibration.means, *calibration.variances)
        ):
            raise ValueError("stored statistics do not fit the anchors")
        return calibration


def quantization(minima: np.ndarray, maxima: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scales and zero points of uint8 ranges as onnxruntime's DynamicQuantizeLinear makes them: the
    range widened to include 0, scale (max - min) / 255, zero point -min / scale rounded half to even."""
    low = np.minimum(minima, np.float32(0))
    high = np.maximum(maxima, np.float32(0))
    span = high - low
    scales = np.where(span == 0, np.float32(1), span / np.float32(_LEVELS)).astype(np.float32)
    zero_points = np.rint(np.clip(-low / scales, 0, _LEVELS)).astype(np.uint8)
    return scales, zero_points


def cache_key(blend: tuple[tuple[str, float], ...]) -> str:
    """A file-name-safe key of a canonical blend (weights at full float precision)."""
    text = ";".join(f"{pack}={weight!r}" for pack, weight in blend)
    return hashlib.sha256(text.encode()).hexdigest()[:24]
