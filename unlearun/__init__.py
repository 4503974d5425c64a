__version__ = "0.1.0"

from .api import Unlearning
from .methods import METHODS, register, get_method
