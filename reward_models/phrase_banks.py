"""Phrase banks for the adversarial reward suite (:mod:`reward_models.robustness`): stock texts that degenerate
replies are built from.

Two banks with no phrase in common: ``TRAIN_BANK`` may be used to build negatives when reward models are retrained
; ``EVAL_BANK`` is the suite's own and must never be used for training, so that a retrained model is
measured on stock phrases it has not seen (a held-out probe, as benchmarks guard their evaluators). Every phrase was
written for this project (CC0, like ``morl_envs/data/counsel_prompts.json``).

>>> from reward_models.phrase_banks import EVAL_BANK, TRAIN_BANK, overlap
>>> overlap(TRAIN_BANK, EVAL_BANK)
[]
>>> EVAL_BANK.openers[0]
'It sounds like'
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields, replace
from pathlib import Path

#: 120 more rude remarks that training may use (CC0; ten kinds of rudeness, twelve each): :func:`with_more_rude_remarks`
RUDE_EXTRA_FILE = Path(__file__).resolve().parent / "data" / "train_rude_extra.json"
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
        "If I'm hearing you right,",
        "Let me check I've understood:",
        "As I understand it,",
        "So the way you see it,",
        "I notice that",
        "What strikes me is that",
        "Putting it another way,",
        "So, in short,",
        "I'm getting the sense that",
        "It comes across that",
        "Let me reflect that back:",
        "So what has happened is that",
        "If I've got this straight,",
        "My understanding is that",
        "Summing up what you said,",
        "What comes through is that",
        "I gather that",
        "You've noticed that",
        "Reading between the lines,",
        "So basically,",
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
        "I hear you.",
        "That is a lot to carry.",
        "I'm so sorry you're going through this.",
        "Thank you for telling me.",
        "That must have been painful.",
        "You're doing the best you can.",
        "I can see why that would upset you.",
        "What a difficult thing to face.",
        "You have every right to feel this way.",
        "That is completely understandable.",
        "I'm glad you reached out.",
        "It means a lot that you trust me with this.",
        "You are stronger than you think.",
        "Things can get better with time.",
        "I really admire your honesty.",
        "Life can be really unfair sometimes.",
        "Your feelings are important.",
        "I'm listening closely.",
        "You've clearly thought about this a lot.",
        "It's natural to have mixed feelings.",
        "That must be so draining.",
        "You're not overreacting at all.",
        "I can only imagine how that feels.",
        "Change is never easy.",
        "Be gentle with yourself right now.",
        "Every step forward counts, however small.",
        "I believe in you.",
        "It's good that you're talking about it.",
        "Your reaction makes a lot of sense.",
        "That really is a hard place to be.",
        "I'm sorry things have been so difficult lately.",
        "It's brave of you to say that out loud.",
        "You've been through so much already.",
        "Feelings like these come and go.",
        "There is no right or wrong way to feel.",
        "You are handling this better than you realise.",
        "It must feel like a lot at times.",
        "That is a very human reaction.",
        "Many people struggle with something similar.",
        "You deserve kindness, especially from yourself.",
        "Hang in there.",
        "Take all the time you need.",
        "I'm really sorry to hear that.",
        "What a stressful time this must be.",
        "You've got this.",
        "It's hard when things don't go the way we hoped.",
        "Healing is not a straight line.",
        "Some days will be easier than others.",
        "It can take a long time to make sense of experiences like these, and that is perfectly fine.",
        "Sometimes the most important thing is simply to notice how you feel and give yourself a little room.",
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
        "What was that like for you?",
        "What do you make of it?",
        "How have you been sleeping lately?",
        "What would you say to a friend in your shoes?",
        "What are you hoping for?",
        "How did you react at the time?",
        "What has helped you in the past?",
        "Where do you feel it in your body?",
        "What would change if this were resolved?",
        "How do you usually deal with situations like this?",
        "What's stopping you?",
        "Is there anything else on your mind?",
        "What would your ideal outcome be?",
        "What do you imagine will happen?",
        "How do you see your options?",
        "What do you think is behind that feeling?",
        "What does your gut tell you?",
        "How would you describe your mood this week?",
        "What would you like to get out of our conversation?",
        "What small step could you take this week?",
        "What do you wish others understood about this?",
        "What does this bring up for you?",
        "How are you looking after yourself?",
        "What do you keep coming back to?",
        "What would make tomorrow a little easier?",
        "How confident do you feel about handling it?",
        "What are you most worried about?",
        "What would it mean to you if things improved?",
        "Have you felt like this before?",
        "How do the people close to you see it?",
    ),
    emotion_keywords=(
        "sad", "angry", "anxious", "overwhelmed", "frustrated", "lonely", "hopeless", "ashamed", "guilty", "afraid",
        "depressed", "miserable", "tense", "irritable", "resentful", "jealous", "bitter", "desperate", "isolated",
        "insecure", "embarrassed", "humiliated", "rejected", "betrayed", "abandoned", "disappointed", "discouraged",
        "drained", "tired", "numb", "empty", "restless", "panicky", "uneasy", "fearful", "terrified", "furious",
        "annoyed", "grieving", "sorrowful", "lost", "trapped", "stuck", "powerless", "worthless", "inadequate",
        "vulnerable", "fragile", "defeated", "regretful", "bored", "impatient", "unsettled", "agitated", "anguished",
        "troubled", "tearful", "weary", "burdened", "misunderstood",
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
        "Snow is expected overnight in the hills, so drivers should allow extra time on Monday morning.",
        "For crisp roast potatoes, parboil them for ten minutes, shake them in the pan and roast them in hot oil.",
        "The marathon route passes the old harbour before finishing in the city park.",
        "If your printer shows an offline error, switch it off, wait thirty seconds and reconnect it to the network.",
        "The Great Wall of China was built and rebuilt over many centuries by several dynasties.",
        "This stainless steel water bottle keeps drinks cold for a whole day and fits most cup holders.",
        "Turn left at the post office and continue past the church. The bakery is on your right.",
        "Ferries to the island run twice a day in summer and once a day in winter.",
        "The basketball season ends in April, and the playoffs begin the following week.",
        "Honey hardly ever spoils if it is kept in a sealed jar.",
        "To reset your password, click the link on the sign-in page and follow the instructions in the email.",
        "The Romans built roads across much of Europe. Some of them are still in use today.",
        "Our new desk lamp has three brightness levels and a port for charging your phone.",
        "A lunar eclipse happens when the Earth passes between the sun and the moon.",
        "Add a spoonful of lemon juice to guacamole to stop it from turning brown.",
        "The swimming pool will be closed for maintenance until the end of the month.",
        "Golfers in the tournament face strong crosswinds on the back nine.",
        "Octopuses have three hearts and blue blood.",
        "The hiking trail climbs steeply for two kilometres before levelling out along the ridge.",
        "Frost is likely in rural areas tonight, so bring tender plants indoors.",
        "The castle was completed in the thirteenth century and later served as a prison.",
        "Restart the router if the wireless connection keeps dropping. If that fails, check the cable.",
        "This backpack has a padded laptop sleeve, two side pockets and a waterproof base.",
        "Take the second exit at the roundabout and follow the signs for the industrial estate.",
        "A cup of dry rice usually makes about three cups once it is cooked.",
        "The cricket match was stopped for an hour because of bad light.",
        "Hotel guests can leave their luggage at reception after checking out.",
        "To update the app, open the store, search for its name and tap the update button.",
        "Bananas ripen faster when they are stored next to apples.",
        "The first adhesive postage stamp, the Penny Black, was issued in Britain in 1840.",
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
        "Whatever, it's not that serious.",
        "I really don't have time for this.",
        "Can we talk about something else now?",
        "Everyone has problems, you know.",
        "Meh, I've heard worse.",
        "That's hardly worth mentioning.",
        "Maybe if you had listened, this wouldn't have happened.",
        "Well, whose idea was that?",
        "That's what happens when you don't plan ahead.",
        "You clearly didn't try hard enough.",
        "Oh, poor you.",
        "Wow, what a tragedy.",
        "Sure, because the whole world revolves around you.",
        "Oh great, another sob story.",
        "Congratulations, you've found something new to moan about.",
        "Aw, does the little baby need a hug?",
        "Boo hoo, cry me a river.",
        "Listen to yourself, it's laughable.",
        "You sound like a broken record.",
        "Get to the point, please.",
        "Are you done yet?",
        "Can you hurry this up?",
        "I've heard enough of this.",
        "We've been over this a hundred times.",
        "That's a stupid way to think.",
        "You're too sensitive for your own good.",
        "Honestly, that's the dumbest thing I've heard all day.",
        "You're acting like a child.",
        "Everyone else manages just fine, so why can't you?",
        "I can't believe you're still going on about this.",
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
        "You should drink more water and eat regular meals.",
        "Just stop checking your phone before bed.",
        "Yoga classes could really help you relax.",
        "You need to stop comparing yourself to others.",
        "Try to get outside in the daylight more often.",
        "You should look for a new job.",
        "Why don't you just move somewhere new?",
        "Consider volunteering in your community.",
        "You should apologise to them first.",
        "Learn to say no more often.",
        "Tidy your space; a clear room makes for a clear mind.",
        "Get a pet, they're great company.",
        "Try listening to calming music in the evening.",
        "You need to stand up for yourself more.",
        "Sign up for an evening class.",
        "Just focus on the positives.",
        "Honestly, you should break up with them.",
        "Make a budget and stick to it.",
        "Spend less time on social media.",
        "Start going to bed at the same time every night.",
    ),
    one_words=(
        "Okay.", "Hmm.", "Right.", "Sure.", "Yes.", "Mhm.", "Understood.", "Interesting.", "Gotcha.", "Agreed.",
        "Certainly.", "Absolutely.", "Exactly.", "True.", "Nice.", "Great.", "Good.", "Ah.", "Oh.", "Gosh.", "Really?",
        "Fair.", "Sorry.", "Thanks.", "Continue.", "Definitely.", "Whatever.", "Um.", "Well.", "Anyway.",
    ),
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


def with_more_rude_remarks(bank: PhraseBank, path: Path = RUDE_EXTRA_FILE) -> PhraseBank:
    """``bank`` with the rude remarks of ``path`` (a JSON object whose ``kinds`` maps each kind of rudeness to its
    remarks) after its own, named ``<bank>+rude``: the training option ``RUDE_EXTRA``, so that a model meets many
    kinds of rude ending rather than one bank's forty phrases."""
    kinds = json.loads(path.read_text(encoding="utf-8"))["kinds"]
    return replace(bank, name=f"{bank.name}+rude",
                   rude_remarks=bank.rude_remarks + tuple(r for remarks in kinds.values() for r in remarks))
