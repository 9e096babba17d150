"""Class sets (AudioSet/Open Images mutual classes and custom sets), data selection and splits."""
