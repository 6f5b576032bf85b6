"""Classifies client email text into issue, change_request, question or feedback, in Chinese and English."""
from classifiers.prediction import LABELS, Prediction
from classifiers.model import Classifier, load_classifier

__all__ = ["LABELS", "Prediction", "Classifier", "load_classifier"]
