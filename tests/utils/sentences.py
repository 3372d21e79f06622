"""Sentence sets for intelligibility tests and benchmarks, written for this project.

The English set avoids the phrases whisper tiny.en mishears whatever the voice ("birch canoe" comes back
as "can use" from every engine), so that a voice's score measures the voice.
"""

from __future__ import annotations

SENTENCES: dict[str, tuple[str, ...]] = {
    "en": (
        "Glue the sheet to the dark blue background.",
        "It's easy to tell the depth of a well.",
        "These days a chicken leg is a rare dish.",
        "Rice is often served in round bowls.",
        "The juice of lemons makes fine punch.",
        "A large size in stockings is hard to sell.",
    ),
    "es": (
        "El perro corre por el parque cada mañana.",
        "Mi hermana vive en una casa pequeña cerca del mar.",
        "Hoy hace buen tiempo para dar un paseo.",
        "La biblioteca abre temprano por la mañana.",
    ),
    "fr": (
        "Nous allons au marché tous les samedis matin.",
        "Ma sœur habite dans une petite maison près de la mer.",
        "La bibliothèque ouvre ses portes le matin.",
        "Il fait beau aujourd'hui dans toute la région.",
    ),
    "it": (
        "Il gatto dorme sul divano del salotto.",
        "Andiamo al mercato ogni sabato mattina.",
        "Oggi fa bel tempo, andiamo a fare una passeggiata.",
        "La biblioteca apre presto la mattina.",
    ),
    "pt": (
        "O gato dorme no sofá da sala.",
        "Nós vamos à feira todos os sábados de manhã.",
        "Hoje o dia está bonito para passear.",
        "A biblioteca abre cedo pela manhã.",
    ),
    "de": (
        "Der Hund läuft jeden Morgen durch den Park.",
        "Meine Schwester wohnt in einem kleinen Haus am Meer.",
        "Heute ist schönes Wetter für einen Spaziergang.",
        "Die Bibliothek öffnet früh am Morgen.",
    ),
    "zh": (
        "今天天气很好，我们去公园散步吧。",
        "我的妹妹住在海边的一个小房子里。",
        "图书馆每天早上很早就开门。",
        "我们每个星期六早上都去市场。",
    ),
    "hi": (
        "मेरा घर शहर के पास है।",
        "आज मौसम बहुत अच्छा है।",
        "हम हर रविवार बाज़ार जाते हैं।",
    ),
}
