"""Two-level class hierarchies (fine class -> coarse superclass) kept as data.

Each dataset's hierarchy is a `Hierarchy`: names at both levels and a `fine_to_coarse`
lookup, so a fine prediction maps to its superclass with one tensor index (DESIGN.md §1).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

# Index = fine label (alphabetical fine_label_names), value = coarse label (DESIGN.md §1).
CIFAR100_FINE_TO_COARSE = (
    4, 1, 14, 8, 0, 6, 7, 7, 18, 3, 3, 14, 9, 18, 7, 11, 3, 9, 7, 11,
    6, 11, 5, 10, 7, 6, 13, 15, 3, 15, 0, 11, 1, 10, 12, 14, 16, 9, 11, 5,
    5, 19, 8, 8, 15, 13, 14, 17, 18, 10, 16, 4, 17, 4, 2, 0, 17, 4, 18, 17,
    10, 3, 2, 12, 12, 16, 12, 1, 9, 19, 2, 10, 0, 1, 16, 12, 9, 13, 15, 13,
    16, 19, 2, 4, 6, 19, 5, 5, 8, 19, 18, 1, 2, 15, 6, 0, 17, 8, 14, 13,
)
CIFAR100_COARSE_NAMES = (
    "aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables",
    "household_electrical_devices", "household_furniture", "insects", "large_carnivores",
    "large_man-made_outdoor_things", "large_natural_outdoor_scenes",
    "large_omnivores_and_herbivores", "medium_mammals", "non-insect_invertebrates",
    "people", "reptiles", "small_mammals", "trees", "vehicles_1", "vehicles_2",
)
CIFAR100_FINE_NAMES = (
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle",
    "bottle", "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle",
    "caterpillar", "cattle", "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch",
    "crab", "crocodile", "cup", "dinosaur", "dolphin", "elephant", "flatfish", "forest", "fox",
    "girl", "hamster", "house", "kangaroo", "keyboard", "lamp", "lawn_mower", "leopard", "lion",
    "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain", "mouse", "mushroom",
    "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
    "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road",
    "rocket", "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake",
    "spider", "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank", "telephone",
    "television", "tiger", "tractor", "train", "trout", "tulip", "turtle", "wardrobe", "whale",
    "willow_tree", "wolf", "woman", "worm",
)

FASHION_MNIST_FINE_NAMES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
FASHION_MNIST_COARSE_NAMES = ("tops", "bottoms", "dresses", "outers", "accessories", "shoes")
# Groups the classes people confuse most: shirt vs T-shirt, pullover vs coat (DESIGN.md §1).
FASHION_MNIST_FINE_TO_COARSE = (0, 1, 3, 2, 3, 5, 0, 5, 4, 5)

# Tiny ImageNet 100/20 (DESIGN.md §1): 20 superclasses of 5 Tiny ImageNet classes, shaped like
# CIFAR-100. Fine label = position in this table read row by row; coarse label = row.
# (superclass, ((WordNet id, name), ...)); names from WordNet.
TINY_IMAGENET_100 = (
    ("dogs", (
        ("n02106662", "German shepherd"),
        ("n02099712", "Labrador retriever"),
        ("n02099601", "golden retriever"),
        ("n02094433", "Yorkshire terrier"),
        ("n02085620", "Chihuahua"),
    )),
    ("cats", (
        ("n02124075", "Egyptian cat"),
        ("n02123045", "tabby"),
        ("n02123394", "Persian cat"),
        ("n02125311", "cougar"),
        ("n02129165", "lion"),
    )),
    ("large herbivores", (
        ("n02437312", "Arabian camel"),
        ("n02403003", "ox"),
        ("n02410509", "bison"),
        ("n02423022", "gazelle"),
        ("n02504458", "African elephant"),
    )),
    ("primates and bears", (
        ("n02486410", "baboon"),
        ("n02481823", "chimpanzee"),
        ("n02480495", "orangutan"),
        ("n02132136", "brown bear"),
        ("n02509815", "lesser panda"),
    )),
    ("insects", (
        ("n02279972", "monarch"),
        ("n02206856", "bee"),
        ("n02165456", "ladybug"),
        ("n02268443", "dragonfly"),
        ("n02226429", "grasshopper"),
    )),
    ("land invertebrates", (
        ("n01774750", "tarantula"),
        ("n01770393", "scorpion"),
        ("n01784675", "centipede"),
        ("n01944390", "snail"),
        ("n01945685", "slug"),
    )),
    ("marine invertebrates", (
        ("n01910747", "jellyfish"),
        ("n02321529", "sea cucumber"),
        ("n01917289", "brain coral"),
        ("n01950731", "sea slug"),
        ("n01983481", "American lobster"),
    )),
    ("reptiles and amphibians", (
        ("n01641577", "bullfrog"),
        ("n01644900", "tailed frog"),
        ("n01629819", "European fire salamander"),
        ("n01698640", "American alligator"),
        ("n01742172", "boa constrictor"),
    )),
    ("cars", (
        ("n03670208", "limousine"),
        ("n04285008", "sports car"),
        ("n02814533", "beach wagon"),
        ("n03100240", "convertible"),
        ("n03444034", "go-kart"),
    )),
    ("buses, trains and trucks", (
        ("n04146614", "school bus"),
        ("n04487081", "trolleybus"),
        ("n02917067", "bullet train"),
        ("n03393912", "freight car"),
        ("n03796401", "moving van"),
    )),
    ("fruit and vegetables", (
        ("n07749582", "lemon"),
        ("n07747607", "orange"),
        ("n07753592", "banana"),
        ("n07768694", "pomegranate"),
        ("n07720875", "bell pepper"),
    )),
    ("dishes", (
        ("n07873807", "pizza"),
        ("n07875152", "potpie"),
        ("n07871810", "meat loaf"),
        ("n07711569", "mashed potato"),
        ("n07695742", "pretzel"),
    )),
    ("garments", (
        ("n02963159", "cardigan"),
        ("n03404251", "fur coat"),
        ("n03617480", "kimono"),
        ("n03980874", "poncho"),
        ("n02669723", "academic gown"),
    )),
    ("clothing accessories", (
        ("n04259630", "sombrero"),
        ("n02883205", "bow tie"),
        ("n04254777", "sock"),
        ("n04133789", "sandal"),
        ("n03026506", "Christmas stocking"),
    )),
    ("bottles and jars", (
        ("n03983396", "pop bottle"),
        ("n02823428", "beer bottle"),
        ("n03937543", "pill bottle"),
        ("n04560804", "water jug"),
        ("n02815834", "beaker"),
    )),
    ("household appliances", (
        ("n03085013", "computer keyboard"),
        ("n04074963", "remote control"),
        ("n04070727", "refrigerator"),
        ("n04179913", "sewing machine"),
        ("n04265275", "space heater"),
    )),
    ("sports equipment", (
        ("n04540053", "volleyball"),
        ("n02802426", "basketball"),
        ("n04118538", "rugby ball"),
        ("n04023962", "punching bag"),
        ("n03255030", "dumbbell"),
    )),
    ("bridges and dams", (
        ("n04366367", "suspension bridge"),
        ("n04311004", "steel arch bridge"),
        ("n04532670", "viaduct"),
        ("n03160309", "dam"),
        ("n04486054", "triumphal arch"),
    )),
    ("shops and buildings", (
        ("n02927161", "butcher shop"),
        ("n02791270", "barbershop"),
        ("n03089624", "confectionery"),
        ("n02793495", "barn"),
        ("n03042490", "cliff dwelling"),
    )),
    ("natural scenes", (
        ("n09246464", "cliff"),
        ("n09428293", "seashore"),
        ("n09332890", "lakeside"),
        ("n09193705", "alp"),
        ("n09256479", "coral reef"),
    )),
)


@dataclass(frozen=True)
class Hierarchy:
    """Fine and coarse class names and the fine -> coarse mapping."""

    fine_names: tuple[str, ...]
    coarse_names: tuple[str, ...]
    fine_to_coarse_ids: tuple[int, ...]

    def __post_init__(self):
        if len(self.fine_to_coarse_ids) != len(self.fine_names):
            raise ValueError("fine_to_coarse needs one entry per fine class")
        used = set(self.fine_to_coarse_ids)
        if used != set(range(len(self.coarse_names))):
            raise ValueError("every coarse class needs at least one fine class, and no other ids")

    @property
    def num_fine(self) -> int:
        return len(self.fine_names)

    @property
    def num_coarse(self) -> int:
        return len(self.coarse_names)

    def fine_to_coarse(self, device=None) -> torch.Tensor:
        """(num_fine,) int64 lookup: `fine_to_coarse()[fine_labels]` gives coarse labels."""
        return torch.tensor(self.fine_to_coarse_ids, dtype=torch.long, device=device)

    def children(self, coarse: int) -> list[int]:
        return [f for f, c in enumerate(self.fine_to_coarse_ids) if c == coarse]


CIFAR100 = Hierarchy(CIFAR100_FINE_NAMES, CIFAR100_COARSE_NAMES, CIFAR100_FINE_TO_COARSE)
FASHION_MNIST = Hierarchy(
    FASHION_MNIST_FINE_NAMES, FASHION_MNIST_COARSE_NAMES, FASHION_MNIST_FINE_TO_COARSE
)


def synthetic(num_coarse: int = 4, fine_per_coarse: int = 3) -> Hierarchy:
    """The synthetic set's hierarchy: fine class f belongs to superclass f // fine_per_coarse."""
    fine = tuple(f"synthetic-c{c}-f{f}" for c in range(num_coarse) for f in range(fine_per_coarse))
    coarse = tuple(f"synthetic-c{c}" for c in range(num_coarse))
    mapping = tuple(i // fine_per_coarse for i in range(num_coarse * fine_per_coarse))
    return Hierarchy(fine, coarse, mapping)


TINY_IMAGENET_WNIDS = tuple(w for _, classes in TINY_IMAGENET_100 for w, _ in classes)
TINY_IMAGENET = Hierarchy(
    tuple(n for _, classes in TINY_IMAGENET_100 for _, n in classes),
    tuple(name for name, _ in TINY_IMAGENET_100),
    tuple(c for c, (_, classes) in enumerate(TINY_IMAGENET_100) for _ in classes),
)


def of(dataset: str) -> Hierarchy:
    """The class hierarchy of a dataset name (hbn.config.DATASETS)."""
    table = {"cifar100": CIFAR100, "fashion-mnist": FASHION_MNIST,
             "tiny-imagenet-100": TINY_IMAGENET, "synthetic": synthetic()}
    if dataset not in table:
        raise ValueError(f"unknown dataset {dataset!r}: one of {', '.join(table)}")
    return table[dataset]
