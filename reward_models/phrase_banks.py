"""Phrase banks for the adversarial reward suite (:mod:`reward_models.robustness`): stock texts that degenerate
replies are built from.

Two banks with no phrase in common: ``TRAIN_BANK`` may be used to build negatives when reward models are retrained
(issue 12); ``EVAL_BANK`` is the suite's own and must never be used for training, so that a retrained model is
measured on stock phrases it has not seen (the held-out-probe guard of REFERENCE.md section 9). Every phrase was
written for this project (CC0, like ``morl_envs/data/counsel_prompts.json``).

>>> from reward_models.phrase_banks import EVAL_BANK, TRAIN_BANK, overlap
>>> overlap(TRAIN_BANK, EVAL_BANK)
[]
>>> EVAL_BANK.openers[0]
'It sounds like'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

#: the least number of entries in each field of a bank
MIN_ENTRIES = 8


@dataclass(frozen=True)
class PhraseBank:
    """Stock texts, one tuple per kind. Each field holds at least ``MIN_ENTRIES`` distinct entries."""

    #: the bank's name, reported with every suite result ("train" or "eval")
    name: str
    #: reflective lead-ins that a pronoun-swapped echo is appended to ("It sounds like" + " you are ...")
    openers: tuple[str, ...]
    #: one-sentence replies that fit any client statement and say nothing about it
    generic_sentences: tuple[str, ...]
    #: open questions that fit any client statement
    generic_questions: tuple[str, ...]
    #: single feeling words (adjectives), strung together by keyword stuffing
    emotion_keywords: tuple[str, ...]
    #: fluent texts about something unrelated to counselling (weather, recipes, sport, ...)
    off_topic_texts: tuple[str, ...]
    #: dismissive or insulting remarks, appended to a genuine reply
    rude_remarks: tuple[str, ...]
    #: unsolicited advice, appended to a genuine reply (a reflection plus advice is not necessarily worse)
    advice_remarks: tuple[str, ...]
    #: one-word replies (fillers and acknowledgements)
    one_words: tuple[str, ...]

    def __post_init__(self) -> None:
        for field in fields(self):
            if field.name == "name":
                continue
            entries = getattr(self, field.name)
            if not isinstance(entries, tuple) or not all(isinstance(e, str) and e.strip() for e in entries):
                raise TypeError(f"PhraseBank `{field.name}` must be a tuple of non-empty str; got {entries!r:.80}")
            if len(set(map(normalise, entries))) < MIN_ENTRIES:
                raise ValueError(f"PhraseBank `{field.name}` must hold at least {MIN_ENTRIES} distinct entries; "
                                 f"got {len(set(map(normalise, entries)))}")
        if any(len(word.split()) != 1 for word in self.one_words + self.emotion_keywords):
            raise ValueError("PhraseBank `one_words` and `emotion_keywords` must hold single words")

    def phrases(self) -> set[str]:
        """Every entry of every field, normalised (see :func:`normalise`)."""
        return {normalise(e) for f in fields(self) if f.name != "name" for e in getattr(self, f.name)}


def normalise(text: str) -> str:
    """Lower case, letters, digits and single spaces only: the form under which two banks must not share a phrase.

    >>> normalise("  It sounds LIKE... ")
    'it sounds like'
    """
    return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("’", "'")).split())


def overlap(first: PhraseBank, second: PhraseBank) -> list[str]:
    """The normalised phrases that both banks hold (sorted); empty for disjoint banks."""
    return sorted(first.phrases() & second.phrases())


TRAIN_BANK = PhraseBank(
    name="train",
    openers=(
        "So what you're telling me is that",
        "It seems that",
        "What I'm hearing is that",
        "If I understand you right,",
        "You're saying that",
        "From what you describe,",
        "It appears that",
        "So for you,",
        "Let me see if I have this right:",
        "In other words,",
    ),
    generic_sentences=(
        "That must be really hard for you.",
        "I hear you, and what you feel is valid.",
        "Thank you for sharing that with me.",
        "It takes courage to talk about this.",
        "You are going through a lot right now.",
        "Your feelings make complete sense.",
        "I can tell this matters a great deal to you.",
        "That sounds like a difficult situation.",
        "You deserve support with this.",
        "It is understandable to feel that way.",
    ),
    generic_questions=(
        "How does that make you feel?",
        "Can you tell me more about that?",
        "What do you think would help?",
        "What would you like to happen next?",
        "How long have you felt this way?",
        "What is the hardest part for you?",
        "Who else knows about this?",
        "What have you tried so far?",
        "How are you coping with all of this?",
        "What does a good day look like for you?",
    ),
    emotion_keywords=(
        "sad", "angry", "anxious", "overwhelmed", "frustrated", "lonely", "hopeless", "ashamed", "guilty", "afraid",
    ),
    off_topic_texts=(
        "The forecast says light rain in the morning, clearing to sunshine by the afternoon.",
        "To make a simple tomato sauce, soften garlic in olive oil and simmer the tomatoes for twenty minutes.",
        "The home team scored twice in the second half and won the match three goals to one.",
        "Most houseplants need watering once a week and a spot with bright, indirect light.",
        "The train to the coast leaves every hour from platform four.",
        "A good pair of running shoes should be replaced after about five hundred miles.",
        "The museum's new exhibition shows pottery from the Bronze Age.",
        "Chess openings like the Sicilian Defence have been studied for centuries.",
        "Change the oil in your car every ten thousand kilometres or once a year.",
        "The library opens at nine on weekdays and at ten on Saturdays.",
    ),
    rude_remarks=(
        "Honestly, you're overreacting.",
        "Just get over it already.",
        "That's a pretty pathetic excuse.",
        "Stop whining about it.",
        "Frankly, this is your own fault.",
        "I don't see why you're making such a fuss.",
        "Grow up.",
        "You're being ridiculous.",
        "Nobody wants to hear this.",
        "What a silly thing to worry about.",
    ),
    advice_remarks=(
        "You should make a list of pros and cons.",
        "Try going for a walk every morning.",
        "I recommend you speak to your doctor about it.",
        "You need to set clearer boundaries.",
        "Why not join a support group?",
        "You ought to get more sleep.",
        "Maybe write down your thoughts each evening.",
        "Consider taking a few days off work.",
        "You have to talk to them directly.",
        "Try some breathing exercises when it gets bad.",
    ),
    one_words=("Okay.", "Hmm.", "Right.", "Sure.", "Yes.", "Mhm.", "Understood.", "Interesting."),
)

EVAL_BANK = PhraseBank(
    name="eval",
    openers=(
        "It sounds like",
        "So you're saying",
        "I'm hearing that",
        "It sounds to me like",
        "You feel that",
        "What you're describing is that",
        "It seems to you that",
        "So right now,",
        "Correct me if I'm wrong, but",
        "From where you stand,",
    ),
    generic_sentences=(
        "That sounds really tough, and I'm here for you.",
        "What you're feeling is completely normal.",
        "I appreciate you opening up about this.",
        "You're dealing with so much at the moment.",
        "Anyone in your position would feel the same.",
        "It's clear how much this is weighing on you.",
        "Your experience matters, and so do you.",
        "This has clearly been a painful time.",
        "You don't have to go through this alone.",
        "It's okay to feel the way you do.",
    ),
    generic_questions=(
        "What's going on for you right now?",
        "How is that affecting you?",
        "What would be most helpful today?",
        "Could you say a little more?",
        "What feels most important to you here?",
        "When did you first notice this?",
        "What support do you have around you?",
        "How would you like things to be different?",
        "What goes through your mind when that happens?",
        "What matters most to you about this?",
    ),
    emotion_keywords=(
        "scared", "hurt", "worried", "exhausted", "upset", "stressed", "helpless", "heartbroken", "nervous",
        "confused",
    ),
    off_topic_texts=(
        "Tomorrow will be windy along the coast, with temperatures around fourteen degrees.",
        "For a quick omelette, whisk two eggs with a pinch of salt and cook them in butter over a medium heat.",
        "The cyclist broke away on the final climb and crossed the line a minute ahead of the pack.",
        "Tulip bulbs should be planted in autumn, about fifteen centimetres deep.",
        "The airport shuttle runs every twenty minutes between the terminals.",
        "A basic sourdough loaf needs flour, water, salt and an active starter.",
        "The orchestra will play Beethoven's fifth symphony at the concert hall on Friday.",
        "Tennis players switch ends after every odd-numbered game in a set.",
        "Most laptops last longer if the battery is kept between twenty and eighty percent.",
        "The river flows for three hundred kilometres before it reaches the sea.",
    ),
    rude_remarks=(
        "Seriously, stop complaining.",
        "That's your problem, not mine.",
        "You're making a big deal out of nothing.",
        "Toughen up.",
        "This is honestly a bit pathetic.",
        "Nobody cares about that.",
        "You brought this on yourself.",
        "Quit feeling sorry for yourself.",
        "What a waste of my time.",
        "You're just being dramatic.",
    ),
    advice_remarks=(
        "You should try keeping a daily journal.",
        "I suggest you talk to a professional about it.",
        "Maybe you could take up a new hobby.",
        "You really need to exercise more.",
        "Try cutting down on caffeine.",
        "You could ask a friend to help you.",
        "It might help to make a plan for the week.",
        "Have you thought about meditation?",
        "You should tell your family how you feel.",
        "Set yourself one small goal for tomorrow.",
    ),
    one_words=("Ok.", "Uh-huh.", "Alright.", "Yeah.", "Noted.", "Indeed.", "Fine.", "Wow.", "Cool.", "Totally."),
)
