"""A seeded English sentence generator for the tiny synthetic corpus.

generate_sentences  count, seed -> distinct raw English sentences, 4-14 words each; about a
                    quarter carry numbers, dates, money, percentages, times, ordinals or
                    abbreviations (Dr., Mr., St.) so that the text front end matters; with
                    open_vocabulary=p, a share p are open-vocabulary sentences instead
english_words       the 12,000 most frequent plain English words (english_words.txt, from
                    wordfreq 3.1.1 via data_scripts/word_list.py), most frequent first
open_vocabulary_sentence  rng -> 4-10 words drawn from english_words(): the words matter,
                    not the grammar ("Budget the winter carbon of expect.")
split_sentences     sentences, held_out_fraction, seed -> (train, held_out), no overlap
VOCABULARY          every word of the templates' word lists and their inflections (lowercase):
                    about 1,500; the open-vocabulary sentences reach 12,000 more
DIGIT_WORDS         ("zero", "one", ..., "nine") for the spoken-digits set

Sentences are raw text ("Dr. Lee paid $5.50 on Jan. 5, 2020."): run them through
minispeech.text.normalize before encoding. The generator uses only random.Random(seed),
so a seed gives the same list on every machine and Python version (no hash randomization).

Taught in lessons/00_setup_data_text.ipynb, section 3.
"""

from __future__ import annotations

import functools
import random
import re
from pathlib import Path

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
MIN_WORDS, MAX_WORDS = 4, 14
NUMERIC_FRACTION = 0.25  # share of sentences drawn from the numeric templates

# ----------------------------------------------------------------------------- word lists

NOUNS = (
    "apple", "bag", "ball", "banana", "basket", "bed", "bell", "bench", "bicycle", "bird",
    "blanket", "boat", "book", "boot", "bottle", "bowl", "box", "branch", "bread", "bridge",
    "brush", "bucket", "building", "bus", "button", "cake", "camera", "candle", "car", "card",
    "carpet", "castle", "cat", "chair", "cheese", "chicken", "clock", "cloud", "coat", "coin",
    "computer", "cookie", "corner", "cow", "cup", "curtain", "desk", "dog", "door", "dragon",
    "drawer", "dress", "drum", "duck", "egg", "elephant", "engine", "envelope", "farm", "fence",
    "field", "flag", "flower", "forest", "fork", "fountain", "fox", "frog", "garden", "gate",
    "gift", "glass", "glove", "goat", "guitar", "hammer", "hat", "helmet", "hill", "horse",
    "hospital", "hotel", "house", "island", "jacket", "jar", "kettle", "key", "kitchen", "kite",
    "ladder", "lake", "lamp", "lemon", "letter", "library", "lion", "lock", "machine", "map",
    "market", "medal", "mirror", "monkey", "moon", "mountain", "museum", "needle", "nest", "newspaper",
    "notebook", "ocean", "office", "orange", "oven", "owl", "package", "painting", "pan", "paper",
    "park", "parrot", "pen", "pencil", "piano", "picture", "pillow", "plane", "plant", "plate",
    "pocket", "pond", "pot", "puzzle", "rabbit", "radio", "ribbon", "ring", "river", "road",
    "robot", "rock", "roof", "rope", "sandwich", "school", "scarf", "ship", "shirt", "shoe",
    "shop", "shovel", "sofa", "spoon", "square", "stamp", "star", "station", "statue", "stone",
    "stove", "street", "suitcase", "table", "teapot", "telephone", "tent", "ticket", "tiger", "toast",
    "towel", "tower", "town", "toy", "tractor", "train", "tree", "truck", "trumpet", "tunnel",
    "turtle", "umbrella", "valley", "vase", "violin", "wagon", "wall", "wallet", "watch", "wheel",
    "whistle", "window", "kayak", "basin", "blender", "candlestick", "anchor", "arrow", "axe", "badge",
    "balloon", "barrel", "beach", "bean", "beard", "berry", "blossom", "bone", "bracelet", "brick",
    "cabin", "cable", "canal", "canoe", "carrot", "cart", "chain", "chimney", "church", "cliff",
    "collar", "compass", "cottage", "cushion", "diamond", "dolphin", "eagle", "feather", "ferry", "flute",
    "garage", "ghost", "giraffe", "harbor", "hedge", "honey", "insect", "jewel", "kangaroo", "lantern",
    "lighthouse", "lizard", "magnet", "meadow", "melon", "microphone", "motor", "mushroom", "napkin", "onion",
    "orchard", "paddle", "palace", "parcel", "peach", "pear", "pebble", "penguin", "pepper", "pie",
    "pigeon", "pipe", "pizza", "planet", "pumpkin", "quilt", "raft", "rainbow", "receipt", "saddle",
    "sailor", "salad", "sausage", "scissors", "seed", "shark", "shell", "skateboard", "sled", "snail",
    "snake", "soup", "spider", "sponge", "squirrel", "stairway", "stool", "storm", "strawberry", "sweater",
    "tablet", "teacup", "telescope", "thermometer", "thread", "tomato", "tortoise", "trophy", "tulip", "violet",
    "waterfall", "whale", "windmill", "wolf", "zebra", "teacher", "doctor", "farmer", "pilot", "baker",
    "driver", "painter", "singer", "student", "soldier", "nurse", "lawyer", "artist", "captain", "neighbor",
    "visitor", "stranger", "child", "friend", "cousin", "uncle", "aunt", "king", "queen", "prince",
    "princess", "knight", "wizard", "clown", "chef", "dancer", "gardener", "writer", "reporter", "scientist",
)
PLURAL_EXCEPTIONS = {
    "child": "children", "wolf": "wolves", "scissors": "scissors", "tomato": "tomatoes",
    "knife": "knives", "shelf": "shelves", "leaf": "leaves", "loaf": "loaves",
}
ADJECTIVES = (
    "big", "small", "tiny", "huge", "tall", "short", "long", "wide", "narrow", "heavy",
    "light", "old", "new", "young", "ancient", "modern", "red", "blue", "green", "yellow",
    "purple", "orange", "pink", "brown", "black", "white", "gray", "golden", "silver", "bright",
    "dark", "shiny", "dusty", "clean", "dirty", "wet", "dry", "warm", "cold", "hot",
    "cool", "soft", "hard", "smooth", "rough", "sharp", "round", "square", "flat", "empty",
    "full", "quiet", "loud", "noisy", "silent", "happy", "sad", "angry", "calm", "brave",
    "shy", "proud", "lazy", "busy", "clever", "curious", "friendly", "gentle", "kind", "polite",
    "rude", "funny", "serious", "strange", "famous", "ordinary", "special", "simple", "careful", "cheerful",
    "fancy", "plain", "rich", "poor", "cheap", "expensive", "fresh", "rotten", "sweet", "sour",
    "bitter", "salty", "spicy", "delicious", "tasty", "broken", "fragile", "sturdy", "strong", "weak",
    "early", "late", "quick", "slow", "fast", "lucky", "tired", "hungry", "thirsty", "sleepy",
    "wooden", "plastic", "metal", "paper", "woolen", "striped", "spotted", "crooked", "gigantic", "little",
    "beautiful", "ugly", "pretty", "handsome", "lovely", "gloomy", "sunny", "rainy", "windy", "snowy",
    "foggy", "stormy", "peaceful", "crowded", "lonely", "secret", "hidden", "magic", "mysterious", "wild",
    "tame", "nervous", "eager", "fierce", "jolly", "grumpy", "patient", "honest", "generous", "humble",
    "elegant", "awkward", "graceful", "clumsy", "ripe", "frozen", "muddy", "sticky", "fluffy", "fuzzy",
)
TRANSITIVE_VERBS = (  # (base, past)
    ("bring", "brought"), ("build", "built"), ("buy", "bought"), ("carry", "carried"), ("catch", "caught"),
    ("clean", "cleaned"), ("close", "closed"), ("cook", "cooked"), ("count", "counted"), ("cover", "covered"),
    ("cut", "cut"), ("draw", "drew"), ("drop", "dropped"), ("fill", "filled"), ("find", "found"),
    ("fix", "fixed"), ("fold", "folded"), ("follow", "followed"), ("grab", "grabbed"), ("hide", "hid"),
    ("hold", "held"), ("kick", "kicked"), ("lift", "lifted"), ("like", "liked"), ("lose", "lost"),
    ("love", "loved"), ("move", "moved"), ("need", "needed"), ("open", "opened"), ("paint", "painted"),
    ("pick", "picked"), ("play", "played"), ("pull", "pulled"), ("push", "pushed"), ("read", "read"),
    ("repair", "repaired"), ("see", "saw"), ("sell", "sold"), ("send", "sent"), ("share", "shared"),
    ("show", "showed"), ("steal", "stole"), ("take", "took"), ("throw", "threw"), ("touch", "touched"),
    ("wash", "washed"), ("watch", "watched"), ("wear", "wore"), ("wrap", "wrapped"), ("borrow", "borrowed"),
    ("polish", "polished"), ("admire", "admired"), ("carve", "carved"), ("check", "checked"), ("choose", "chose"),
    ("deliver", "delivered"), ("describe", "described"), ("drag", "dragged"), ("feed", "fed"), ("forget", "forgot"),
    ("guard", "guarded"), ("hang", "hung"), ("inspect", "inspected"), ("keep", "kept"), ("lend", "lent"),
    ("mend", "mended"), ("notice", "noticed"), ("order", "ordered"), ("pack", "packed"), ("measure", "measured"),
    ("photograph", "photographed"), ("plant", "planted"), ("prepare", "prepared"), ("protect", "protected"),
    ("rescue", "rescued"),
    ("return", "returned"), ("ring", "rang"), ("sketch", "sketched"), ("smell", "smelled"), ("sort", "sorted"),
    ("study", "studied"), ("taste", "tasted"), ("visit", "visited"), ("weigh", "weighed"), ("win", "won"),
)
INTRANSITIVE_VERBS = (  # (base, past)
    ("arrive", "arrived"), ("laugh", "laughed"), ("sleep", "slept"), ("smile", "smiled"), ("sing", "sang"),
    ("dance", "danced"), ("run", "ran"), ("walk", "walked"), ("swim", "swam"), ("wait", "waited"),
    ("cry", "cried"), ("shout", "shouted"), ("whisper", "whispered"), ("travel", "traveled"), ("rest", "rested"),
    ("work", "worked"), ("listen", "listened"), ("jump", "jumped"), ("climb", "climbed"), ("fall", "fell"),
    ("disappear", "disappeared"), ("complain", "complained"), ("hurry", "hurried"), ("wander", "wandered"),
    ("yawn", "yawned"),
    ("sneeze", "sneezed"), ("shiver", "shivered"), ("giggle", "giggled"), ("nod", "nodded"), ("relax", "relaxed"),
)
ADVERBS = (
    "quickly", "slowly", "quietly", "loudly", "carefully", "happily", "sadly", "gently", "suddenly", "calmly",
    "eagerly", "bravely", "proudly", "softly", "politely", "patiently", "nervously", "cheerfully", "silently", "boldly",
)
TIME_PHRASES = (
    "today", "yesterday", "tomorrow", "last night", "this morning", "every evening", "at noon",
    "after lunch", "before dinner", "on weekends", "last summer", "next winter", "every spring", "all autumn",
)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)
FIRST_NAMES = (
    "Adam", "Alice", "Amelia", "Andrew", "Anna", "Arthur", "Bella", "Ben", "Carlos", "Caroline",
    "Charlie", "Chloe", "Daniel", "David", "Diana", "Edward", "Elena", "Ella", "Emily", "Emma",
    "Ethan", "Felix", "Fiona", "Frank", "George", "Grace", "Hannah", "Harry", "Helen", "Henry",
    "Isaac", "Isabel", "Jack", "Jacob", "James", "Jane", "Jasmine", "John", "Julia", "Kate",
    "Kevin", "Laura", "Leo", "Lily", "Lucas", "Lucy", "Maria", "Mark", "Martin", "Maya",
    "Mia", "Michael", "Nathan", "Nina", "Noah", "Olivia", "Oscar", "Paul", "Peter", "Rachel",
    "Robert", "Rosa", "Ruby", "Samuel", "Sarah", "Sophie", "Thomas", "Victor", "Walter", "Zoe",
)
SURNAMES = (
    "Adams", "Baker", "Brown", "Carter", "Clark", "Cooper", "Davis", "Evans", "Fisher", "Foster",
    "Garcia", "Green", "Hall", "Harris", "Hughes", "Jackson", "Johnson", "Jones", "Kelly", "King",
    "Lee", "Lewis", "Martin", "Miller", "Moore", "Morgan", "Murphy", "Nelson", "Parker", "Patel",
    "Perez", "Phillips", "Price", "Reed", "Roberts", "Robinson", "Russell", "Scott", "Shaw", "Smith",
    "Stewart", "Taylor", "Thompson", "Turner", "Walker", "Ward", "Watson", "White", "Wilson", "Young",
)
SAINTS = ("Louis", "Paul", "Andrews", "Albans", "Ives", "Helens", "Petersburg", "Augustine", "Mary", "George")
PLACES = (
    "London", "Paris", "Berlin", "Madrid", "Rome", "Vienna", "Prague", "Dublin", "Lisbon", "Oslo",
    "Stockholm", "Helsinki", "Athens", "Warsaw", "Budapest", "Amsterdam", "Brussels", "Geneva", "Zurich", "Munich",
    "Tokyo", "Kyoto", "Seoul", "Beijing", "Shanghai", "Delhi", "Mumbai", "Bangkok", "Singapore", "Sydney",
    "Melbourne", "Auckland", "Toronto", "Montreal", "Vancouver", "Chicago", "Boston", "Denver", "Seattle", "Houston",
    "Dallas", "Atlanta", "Miami", "Phoenix", "Portland", "Detroit", "Nashville", "Memphis", "Austin", "Cairo",
    "Nairobi", "Lagos", "Lima", "Santiago", "Bogota", "Havana", "Mexico", "Canada", "Brazil", "Argentina",
    "Chile", "Peru", "France", "Spain", "Italy", "Germany", "Norway", "Sweden", "Finland", "Denmark",
    "Poland", "Greece", "Turkey", "Egypt", "Kenya", "Japan", "China", "India", "Australia", "Ireland",
    "Scotland", "Wales", "England", "Portugal", "Iceland", "Morocco", "Vietnam", "Nepal", "Texas", "Oregon",
)
UNITS = ("kilograms", "meters", "miles", "liters", "hours", "minutes", "degrees", "pages", "steps", "people")
DEGREE_WORDS = ("very", "rather", "quite", "really", "slightly", "extremely", "surprisingly", "not")
PREPOSITIONS = ("near", "behind", "beside", "under", "inside", "across", "above", "below", "around", "past")
PRONOUNS = ("he", "she", "they", "we", "I", "you")
FREQUENCY_WORDS = ("always", "never", "often", "sometimes", "usually")
FUNCTION_WORDS = (
    "a", "an", "the", "my", "your", "our", "this", "that", "those", "some", "and", "or", "but", "to", "of",
    "in", "on", "at", "by", "for", "from", "with", "while", "before", "after", "then", "there", "is",
    "was", "were", "are", "did", "does", "should", "again", "please", "what", "where",
    "why", "when", "think", "thinks", "about", "last", "year", "race", "went", "moved", "flew", "drove", "lives",
    "live", "born", "costs", "cost", "paid", "arrived", "leaves", "opens", "woke", "up", "finished",
    "counted", "weighs", "long", "ate", "built", "lived", "met", "prices", "rose", "deadline", "dated",
    "form", "meet", "party", "open", "cents", "million",
)

_AN_EXCEPTIONS = frozenset({"honest", "hour"})


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" or word in _AN_EXCEPTIONS else "a"


def plural(noun: str) -> str:
    """apple -> apples, box -> boxes, city -> cities, child -> children."""
    if noun in PLURAL_EXCEPTIONS:
        return PLURAL_EXCEPTIONS[noun]
    if re.search(r"(s|x|z|ch|sh)$", noun):
        return noun + "es"
    if re.search(r"[^aeiou]y$", noun):
        return noun[:-1] + "ies"
    return noun + "s"


def third_person(verb: str) -> str:
    """carry -> carries, watch -> watches, go -> goes: the he/she/it present form."""
    if verb == "have":
        return "has"
    if re.search(r"(s|x|z|ch|sh|o)$", verb):
        return verb + "es"
    if re.search(r"[^aeiou]y$", verb):
        return verb[:-1] + "ies"
    return verb + "s"


VOCABULARY = frozenset(
    word.lower()
    for group in (
        NOUNS, ADJECTIVES, ADVERBS, WEEKDAYS, MONTHS, FIRST_NAMES, SURNAMES, SAINTS, PLACES, UNITS,
        DEGREE_WORDS, PREPOSITIONS, PRONOUNS, FREQUENCY_WORDS, FUNCTION_WORDS, DIGIT_WORDS,
        tuple(day + "s" for day in WEEKDAYS),
        tuple(" ".join(TIME_PHRASES).split()),
        tuple(form for pair in TRANSITIVE_VERBS + INTRANSITIVE_VERBS for form in pair),
        tuple(third_person(base) for base, _ in TRANSITIVE_VERBS + INTRANSITIVE_VERBS),
        tuple(plural(noun) for noun in NOUNS),
    )
    for word in group
)

# ----------------------------------------------------------------------------- phrases


def _noun_phrase(rng: random.Random) -> str:
    """ "the old lamp", "a tiny fox", "our kite" """
    words = ([rng.choice(ADJECTIVES)] if rng.random() < 0.5 else []) + [rng.choice(NOUNS)]
    determiner = rng.choice(("the", "the", "the", "a", "my", "your", "our", "this", "that"))
    return " ".join([_article(words[0]) if determiner == "a" else determiner] + words)


def _plural_phrase(rng: random.Random) -> str:
    words = ([rng.choice(ADJECTIVES)] if rng.random() < 0.5 else []) + [plural(rng.choice(NOUNS))]
    return " ".join([rng.choice(("the", "some", "our", "those"))] + words)


def _subject(rng: random.Random) -> str:
    """A singular subject: a name or a noun phrase."""
    return rng.choice(FIRST_NAMES) if rng.random() < 0.5 else _noun_phrase(rng)


def _money(rng: random.Random) -> str:
    kind = rng.randrange(7)
    if kind == 0:
        return f"${rng.randint(1, 99)}"
    if kind == 1:
        return f"${rng.randint(0, 99)}.{rng.randint(1, 99):02d}"
    if kind == 2:
        return f"${rng.randint(1, 2000) * 1000:,}"
    if kind == 3:
        return f"\u00a3{rng.randint(1, 500)}"
    if kind == 4:
        return f"\u20ac{rng.randint(1, 99)}.{rng.randint(0, 99):02d}"
    if kind == 5:
        return f"${rng.randint(1, 9)}.{rng.randint(1, 9)} million"
    return f"{rng.randint(2, 99)} cents"


def _clock_time(rng: random.Random) -> str:
    hour, minute = rng.randint(1, 12), rng.choice((0, 5, 10, 15, 20, 30, 45, 50, rng.randint(0, 59)))
    if rng.random() < 0.3:
        return f"{hour} " + rng.choice(("a.m.", "p.m.", "am", "pm"))
    return f"{hour}:{minute:02d}" + rng.choice(("", " am", " pm", " a.m.", " p.m."))


def _year(rng: random.Random) -> int:
    return rng.randint(1800, 2035)


def _day_suffix(day: int) -> str:
    if 10 <= day % 100 <= 20:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


# ----------------------------------------------------------------------------- templates
# Each template draws its words and returns one sentence without the capital first letter.


def _plain_templates() -> tuple:
    def past_action(rng):
        return f"{_subject(rng)} {rng.choice(TRANSITIVE_VERBS)[1]} {_noun_phrase(rng)} {rng.choice(TIME_PHRASES)}."

    def intransitive(rng):
        verb = rng.choice(INTRANSITIVE_VERBS)[1]
        return f"{_subject(rng)} {verb} {rng.choice(ADVERBS)} {rng.choice(PREPOSITIONS)} {_noun_phrase(rng)}."

    def question_did(rng):
        return f"did {_subject(rng)} {rng.choice(TRANSITIVE_VERBS)[0]} {_noun_phrase(rng)} {rng.choice(TIME_PHRASES)}?"

    def question_why(rng):
        return f"why does {_subject(rng)} {rng.choice(TRANSITIVE_VERBS)[0]} {_noun_phrase(rng)}?"

    def trip(rng):
        names = rng.sample(FIRST_NAMES, 2)
        verb = rng.choice(("went", "moved", "flew", "drove", "traveled"))
        return f"{names[0]} and {names[1]} {verb} to {rng.choice(PLACES)} {rng.choice(TIME_PHRASES)}."

    def description(rng):
        return f"{_noun_phrase(rng)} was {rng.choice(DEGREE_WORDS)} {rng.choice(ADJECTIVES)}."

    def request(rng):
        ending = rng.choice(WEEKDAYS + TIME_PHRASES[:3])
        return f"please {rng.choice(TRANSITIVE_VERBS)[0]} {_noun_phrase(rng)} before {ending}."

    def habit(rng):
        verb = third_person(rng.choice(TRANSITIVE_VERBS)[0])
        frequency = rng.choice(FREQUENCY_WORDS)
        return f"{_subject(rng)} {frequency} {verb} {_noun_phrase(rng)} on {rng.choice(WEEKDAYS)}s."

    def opinion(rng):
        thinker = rng.choice(("I think", "we think", "they think", "you think", "she thinks", "he thinks"))
        return f"{thinker} {_noun_phrase(rng)} is {rng.choice(ADJECTIVES)}."

    def plan(rng):
        first, second = rng.sample(TRANSITIVE_VERBS, 2)
        return f"we should {first[0]} {_noun_phrase(rng)} and {second[0]} {_noun_phrase(rng)}."

    def meanwhile(rng):
        names = rng.sample(FIRST_NAMES, 2)
        verb = rng.choice(TRANSITIVE_VERBS)[1]
        return f"{names[0]} {verb} {_noun_phrase(rng)} while {names[1]} {rng.choice(INTRANSITIVE_VERBS)[1]}."

    def question_where(rng):
        return f"where did {rng.choice(FIRST_NAMES)} {rng.choice(TRANSITIVE_VERBS)[0]} {_noun_phrase(rng)}?"

    def group(rng):
        verb = rng.choice(INTRANSITIVE_VERBS)[1]
        return f"{_plural_phrase(rng)} {verb} {rng.choice(ADVERBS)} in the {rng.choice(NOUNS)}."

    def exclamation(rng):
        adjective = rng.choice(ADJECTIVES)
        return f"what {_article(adjective)} {adjective} {rng.choice(NOUNS)}!"

    def home(rng):
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}"
        return f"{name} lives in {rng.choice(PLACES)} with {_noun_phrase(rng)}."

    def there_is(rng):
        return f"there is {_noun_phrase(rng)} {rng.choice(PREPOSITIONS)} {_noun_phrase(rng)}."

    return (past_action, intransitive, question_did, question_why, trip, description, request, habit,
            opinion, plan, meanwhile, question_where, group, exclamation, home, there_is)


def _numeric_templates() -> tuple:
    def paid(rng):
        return f"{rng.choice(FIRST_NAMES)} paid {_money(rng)} for {_noun_phrase(rng)}."

    def costs(rng):
        return f"{_noun_phrase(rng)} costs {_money(rng)} in {rng.choice(PLACES)}."

    def born(rng):
        day = rng.randint(1, 28)
        month = rng.choice(MONTHS)
        written = rng.choice((f"{month} {day}, {_year(rng)}", f"{day} {month} {_year(rng)}",
                              f"{month[:3]}. {day}, {_year(rng)}" if month != "May" else f"May {day}, {_year(rng)}"))
        return f"{rng.choice(FIRST_NAMES)} was born on {written}."

    def numeric_date(rng):
        year, month, day = _year(rng), rng.randint(1, 12), rng.randint(1, 28)
        if rng.random() < 0.5:
            return f"the deadline is {year}-{month:02d}-{day:02d}."
        return f"the form is dated {month}/{day}/{year}."

    def ordinal_date(rng):
        day = rng.randint(1, 31)
        if rng.random() < 0.5:
            return f"we meet again on {rng.choice(MONTHS)} {day}{_day_suffix(day)}."
        return f"the party is on the {day}{_day_suffix(day)} of {rng.choice(MONTHS)}."

    def clock(rng):
        return rng.choice((
            f"the train leaves at {_clock_time(rng)}",
            f"{rng.choice(FIRST_NAMES)} woke up at {_clock_time(rng)}",
            f"{_noun_phrase(rng)} opens at {_clock_time(rng)} on {rng.choice(WEEKDAYS)}",
        )).rstrip(".") + "."

    def percentage(rng):
        if rng.random() < 0.5:
            return f"about {rng.randint(1, 99)}% of {_plural_phrase(rng)} were {rng.choice(ADJECTIVES)}."
        return f"prices rose by {rng.randint(1, 30)}.{rng.randint(1, 9)}% last year."

    def ordinal(rng):
        rank = rng.randint(1, 120)
        if rng.random() < 0.5:
            return f"{rng.choice(FIRST_NAMES)} finished {rank}{_day_suffix(rank)} in the race."
        return f"the {rank}{_day_suffix(rank)} {rng.choice(NOUNS)} was {rng.choice(ADJECTIVES)}."

    def cardinal(rng):
        count = rng.choice((rng.randint(2, 99), rng.randint(100, 999), rng.randint(1000, 99999)))
        if rng.random() < 0.5:
            return f"there were {count:,} {plural(rng.choice(NOUNS))} in the {rng.choice(NOUNS)}."
        return f"{rng.choice(FIRST_NAMES)} counted {count:,} {plural(rng.choice(NOUNS))} {rng.choice(TIME_PHRASES)}."

    def year(rng):
        start = _year(rng)
        return rng.choice((
            f"in {start}, {rng.choice(FIRST_NAMES)} moved to {rng.choice(PLACES)}.",
            f"{_noun_phrase(rng)} was built in the {start // 10 * 10}s.",
            f"{rng.choice(FIRST_NAMES)} lived in {rng.choice(PLACES)} from {start} to {start + rng.randint(1, 30)}.",
        ))

    def title(rng):
        return rng.choice((
            f"Dr. {rng.choice(SURNAMES)} {rng.choice(TRANSITIVE_VERBS)[1]} {_noun_phrase(rng)}.",
            f"Mr. and Mrs. {rng.choice(SURNAMES)} live on {rng.choice(FIRST_NAMES)} St.",
            f"{rng.choice(FIRST_NAMES)} flew to St. {rng.choice(SAINTS)} {rng.choice(TIME_PHRASES)}.",
            f"Ms. {rng.choice(SURNAMES)} met Dr. {rng.choice(SURNAMES)} at {rng.randint(1, 12)} p.m. "
            f"on {rng.choice(WEEKDAYS)}.",
        ))

    def measurement(rng):
        amount = f"{rng.randint(0, 99)}.{rng.randint(1, 9)}"
        if rng.random() < 0.5:
            return f"{_noun_phrase(rng)} weighs {amount} kilograms."
        return f"{_noun_phrase(rng)} is {amount} meters long."

    def share(rng):
        part = rng.choice(("1/2", "1/3", "3/4", "2/3", "1/4"))
        return f"{rng.choice(FIRST_NAMES)} ate {part} of {_noun_phrase(rng)}."

    return (paid, costs, born, numeric_date, ordinal_date, clock, percentage, ordinal, cardinal,
            year, title, measurement, share)


# ----------------------------------------------------------------------------- open vocabulary
# The templates know about 1,500 words, so a recognizer trained on them learns those words'
# spellings and little else: it writes a new word right about one time in ten (issue 11).
# Open-vocabulary sentences draw each word from a 12,000-word frequency list instead; eSpeak
# speaks any word. A share of "glue" words from the top of the list keeps them speech-like.

ENGLISH_WORDS_FILE = Path(__file__).with_name("english_words.txt")
GLUE_WORDS = 150  # the list's first 150 words: the, to, and, of, a, in, ...
GLUE_PROBABILITY = 0.3
OPEN_MIN_WORDS, OPEN_MAX_WORDS = 4, 10


@functools.cache
def english_words() -> tuple[str, ...]:
    """The 12,000 most frequent plain English words, most frequent first (lowercase a-z).

    Generated once from wordfreq 3.1.1 by data_scripts/word_list.py and committed (CC BY-SA 4.0).
    """
    if not ENGLISH_WORDS_FILE.is_file():
        raise FileNotFoundError(f"{ENGLISH_WORDS_FILE} is missing: restore it from git, or regenerate "
                                "it with `python data_scripts/word_list.py`")
    lines = ENGLISH_WORDS_FILE.read_text(encoding="utf-8").splitlines()
    return tuple(line for line in lines if line and not line.startswith("#"))


def open_vocabulary_sentence(rng: random.Random) -> str:
    """4-10 words, each a glue word (probability GLUE_PROBABILITY) or any word of the list."""
    words = english_words()
    count = rng.randint(OPEN_MIN_WORDS, OPEN_MAX_WORDS)
    chosen = [rng.choice(words[:GLUE_WORDS]) if rng.random() < GLUE_PROBABILITY else rng.choice(words)
              for _ in range(count)]
    return " ".join(chosen) + "."


_PLAIN_TEMPLATES = _plain_templates()
_NUMERIC_TEMPLATES = _numeric_templates()
_MAX_ATTEMPTS_PER_SENTENCE = 100


def generate_sentences(count: int, seed: int, open_vocabulary: float = 0.0) -> list[str]:
    """`count` distinct raw English sentences of 4-14 words, the same list for the same seed.

    A share `open_vocabulary` of them are open_vocabulary_sentence()s. Of the template
    sentences, about NUMERIC_FRACTION come from the numeric templates (money, dates, times,
    percentages, ordinals, cardinals, years, Dr./Mr./St., decimals, fractions). With
    open_vocabulary=0 (the default) the list is the one this function gave before it had
    that argument, so corpora built from it do not change.
    Taught in lessons/00_setup_data_text.ipynb, section 3.
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"generate_sentences: count must be a non-negative int, got {count!r}")
    if not 0.0 <= open_vocabulary <= 1.0:
        raise ValueError(f"generate_sentences: open_vocabulary must be in [0, 1], got {open_vocabulary!r}")
    rng = random.Random(seed)
    sentences: list[str] = []
    seen: set[str] = set()
    attempts = 0
    while len(sentences) < count:
        attempts += 1
        if attempts > _MAX_ATTEMPTS_PER_SENTENCE * max(count, 1):
            raise ValueError(f"generate_sentences: could not find {count} distinct sentences; ask for fewer")
        if open_vocabulary > 0.0 and rng.random() < open_vocabulary:  # no draw at 0: old lists stay
            sentence = open_vocabulary_sentence(rng)
        else:
            templates = _NUMERIC_TEMPLATES if rng.random() < NUMERIC_FRACTION else _PLAIN_TEMPLATES
            sentence = rng.choice(templates)(rng)
        sentence = sentence[0].upper() + sentence[1:]
        if MIN_WORDS <= len(sentence.split()) <= MAX_WORDS and sentence not in seen:
            seen.add(sentence)
            sentences.append(sentence)
    return sentences


def split_sentences(
    sentences: list[str], held_out_fraction: float, seed: int
) -> tuple[list[str], list[str]]:
    """Shuffle with `seed` and hold out round(held_out_fraction * n) distinct sentences.

    Duplicates are merged first, so no sentence lands in both parts. Each part keeps the
    input order. Taught in lessons/00_setup_data_text.ipynb, section 3.
    """
    if not 0.0 <= held_out_fraction <= 1.0:
        raise ValueError(f"split_sentences: held_out_fraction must be in [0, 1], got {held_out_fraction}")
    unique = list(dict.fromkeys(sentences))
    order = list(range(len(unique)))
    random.Random(seed).shuffle(order)
    held_out_indices = set(order[: round(held_out_fraction * len(unique))])
    train = [s for i, s in enumerate(unique) if i not in held_out_indices]
    held_out = [s for i, s in enumerate(unique) if i in held_out_indices]
    return train, held_out
