//! Numerical building blocks for the theory: quadrature, root finding, maximisation.
//! (to be written)
